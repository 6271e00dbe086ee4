/**
 * The text on each page of a PDF printed by Chromium (page.pdf), so the print tests can check what
 * every page says. Enough of PDF for Skia's output only: uncompressed object table, Flate content
 * streams, Type0 fonts with a ToUnicode CMap, text drawn with Tj/TJ. Not a general PDF reader.
 */
import { inflateSync } from 'node:zlib';

interface PdfObject {
  dict: string;
  stream?: Buffer;
}

function parseObjects(pdf: Buffer): Map<number, PdfObject> {
  const text = pdf.toString('latin1');
  const objects = new Map<number, PdfObject>();
  for (const m of text.matchAll(/(\d+) 0 obj([\s\S]*?)endobj/g)) {
    const body = m[2] ?? '';
    const at = body.indexOf('stream');
    if (at < 0) {
      objects.set(Number(m[1]), { dict: body });
      continue;
    }
    const dict = body.slice(0, at);
    const raw = body.slice(at + 'stream'.length).replace(/^\r?\n/, '');
    // The stream is /Length bytes long: its data may itself end in \r or \n, so the end-of-line
    // before `endstream` is only guessed when the length is not given directly.
    const declared = /\/Length\s+(\d+)(\s+\d+\s+R)?/.exec(dict); // `12 0 R` would be a reference, not a length
    const length = declared && !declared[2] ? declared[1] : undefined;
    const data = Buffer.from(
      length !== undefined
        ? raw.slice(0, Number(length))
        : raw.slice(0, raw.lastIndexOf('endstream')).replace(/\r?\n$/, ''),
      'latin1',
    );
    let stream = data;
    if (dict.includes('/FlateDecode')) {
      try {
        stream = inflateSync(data);
      } catch {
        // not needed for text (images may use other encodings)
      }
    }
    objects.set(Number(m[1]), { dict, stream });
  }
  return objects;
}

const ref = (dict: string, key: string): number | undefined => {
  const m = new RegExp(`/${key}\\s+(\\d+) 0 R`).exec(dict);
  return m ? Number(m[1]) : undefined;
};

const hexToCodes = (hex: string, width: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i + width <= hex.length; i += width) out.push(parseInt(hex.slice(i, i + width), 16));
  return out;
};

const unicode = (hex: string): string => String.fromCodePoint(...hexToCodes(hex, 4));

/** Glyph code → text, from a ToUnicode CMap (bfchar and bfrange, both forms). */
function toUnicode(cmap: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const block of cmap.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const m of (block[1] ?? '').matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g))
      map.set(parseInt(m[1] ?? '0', 16), unicode(m[2] ?? ''));
  }
  for (const block of cmap.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const m of (block[1] ?? '').matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])/g)) {
      const from = parseInt(m[1] ?? '0', 16);
      const to = parseInt(m[2] ?? '0', 16);
      const target = m[3] ?? '';
      if (target.startsWith('[')) {
        [...target.matchAll(/<([0-9A-Fa-f]+)>/g)].forEach((t, i) => map.set(from + i, unicode(t[1] ?? '')));
      } else {
        const start = parseInt(target.slice(1, -1), 16);
        for (let c = from; c <= to; c++) map.set(c, String.fromCodePoint(start + c - from));
      }
    }
  }
  return map;
}

/** Text drawn by a page or a form XObject (and the forms it draws), from its own content and fonts. */
function drawnText(owner: PdfObject, streams: string[], objects: Map<number, PdfObject>, depth = 0): string {
  const fonts = new Map<string, Map<number, string>>();
  const fontDict = /\/Font\s*<<([^>]*)>>/.exec(owner.dict)?.[1] ?? '';
  for (const m of fontDict.matchAll(/\/(\w+)\s+(\d+) 0 R/g)) {
    const cmapRef = ref(objects.get(Number(m[2]))?.dict ?? '', 'ToUnicode');
    const cmap = cmapRef !== undefined ? objects.get(cmapRef)?.stream?.toString('latin1') : undefined;
    if (cmap) fonts.set(m[1] ?? '', toUnicode(cmap));
  }
  let font = new Map<number, string>();
  const parts: string[] = [];
  for (const content of streams) {
    for (const m of content.matchAll(/\/(\w+)\s+[\d.]+\s+Tf|\[((?:[^\]])*)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj/g)) {
      if (m[1] !== undefined) font = fonts.get(m[1]) ?? new Map();
      const hexes = m[2] !== undefined ? [...m[2].matchAll(/<([0-9A-Fa-f]*)>/g)].map((x) => x[1] ?? '') : [m[3] ?? ''];
      if (m[1] === undefined)
        parts.push(
          hexes
            .map((hex) =>
              hexToCodes(hex, 4)
                .map((c) => font.get(c) ?? '')
                .join(''),
            )
            .join(''),
        );
    }
  }
  // Chromium draws some of a page inside form XObjects.
  const xobjects = /\/XObject\s*<<([^>]*)>>/.exec(owner.dict)?.[1] ?? '';
  for (const m of xobjects.matchAll(/\/(\w+)\s+(\d+) 0 R/g)) {
    const form = objects.get(Number(m[2]));
    if (depth < 4 && form && /\/Subtype\s*\/Form/.test(form.dict) && form.stream)
      parts.push(drawnText(form, [form.stream.toString('latin1')], objects, depth + 1));
  }
  return parts.join(' ');
}

function pageText(page: PdfObject, objects: Map<number, PdfObject>): string {
  const contents = /\/Contents\s*(\[[^\]]*\]|\d+ 0 R)/.exec(page.dict)?.[1] ?? '';
  const streams = [...contents.matchAll(/(\d+) 0 R/g)].map(
    (m) => objects.get(Number(m[1]))?.stream?.toString('latin1') ?? '',
  );
  return drawnText(page, streams, objects);
}

/** The text of every page, in page order. */
export function pdfPageTexts(pdf: Buffer): string[] {
  const objects = parseObjects(pdf);
  const pages = [...objects.values()].find((o) => /\/Type\s*\/Pages\b/.test(o.dict));
  const kids = [...(/\/Kids\s*\[([^\]]*)\]/.exec(pages?.dict ?? '')?.[1] ?? '').matchAll(/(\d+) 0 R/g)];
  return kids.map((k) => pageText(objects.get(Number(k[1])) ?? { dict: '' }, objects));
}
