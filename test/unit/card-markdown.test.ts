/**
 * Text the record supplies reaches a card's markdown as text and nothing else. A unit, a
 * data-absent reason, a status, a drug's name is input: before mdText, such text went into card
 * details raw, so that `[Order here](https://…)` became a link inside our card, a line break and
 * `# …` a heading, `|` a new table cell, `<img …>` HTML.
 *
 * The renderer is markdown-it with raw HTML on (the most a CDS client could render), GitHub's
 * tables and strikethrough, and GFM's autolinks (linkify without fuzzy domain names).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import type { FhirResource, MedicationRequest, Observation, Procedure } from 'fhir/r4.js';
import { mdText } from '../../src/cards/markdown.js';
import { oneLine, recordText } from '../../src/clinical/record-text.js';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { adviseOn, orderCards } from '../../src/cards/orders.js';
import { cardSchema, type Card } from '../../src/cds-hooks/schemas.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config.js';
import { checkFhirServer } from '../../src/fhir/gateway.js';
import { loadLocalCodes } from '../../src/profiles.js';
import { parseThresholds } from '../../src/clinical/thresholds.js';
import {
  administration,
  anc,
  assessOn,
  infusion,
  infusionProcedure,
  obs,
  plt,
  series,
  testTerminology,
} from '../helpers/fhir.js';
import { tocilizumabOrder } from '../helpers/orders.js';

const md = new MarkdownIt({ html: true, linkify: true });
md.linkify.set({ fuzzyLink: false });
const clinical = loadClinicalContext({ timeZone: 'UTC' });

/** What markdown-it makes of `markdown`, without the text: the structure a reader sees. */
function structure(markdown: string): string[] {
  const out: string[] = [];
  const walk = (tokens: Token[]): void => {
    for (const t of tokens) {
      if (t.type !== 'text' && t.type !== 'softbreak') out.push([t.type, t.attrGet('href') ?? ''].join(' '));
      if (t.children) walk(t.children);
    }
  };
  walk(md.parse(markdown, {}));
  return out;
}

/** HTML's escaping of text, as markdown-it writes it. */
const html = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

describe('mdText: plain text as inline markdown (worked cases; expected output written by hand)', () => {
  test.each([
    ['a link', '[Order](https://evil.example)', '\\[Order\\](https:\\//evil.example)'],
    ['an image', '![x](http://e.example/p.png)', '![x\\](http:\\//e.example/p.png)'],
    ['a link definition', '[a]: http://evil.example', '\\[a\\]: http:\\//evil.example'],
    ['raw HTML', '<img src=x onerror=alert(1)>', '\\<img src=x onerror=alert(1)>'],
    ['an autolink', '<https://evil.example>', '\\<https:\\//evil.example>'],
    ['a bare URL and www', 'see https://a.example and www.b.example', 'see https:\\//a.example and www\\.b.example'],
    ['an e-mail address', 'x@y.example', 'x\\@y.example'],
    ['a protocol-relative address', 'see //evil.example/x', 'see \\//evil.example/x'],
    ['a task-list box at the start', '[x] Signed off', '\\[x] Signed off'],
    ['emphasis, UCUM stars', '10*3/uL and 10*9/L, _x_', '10\\*3/uL and 10\\*9/L, \\_x\\_'],
    ['strikethrough and code', '~~s~~ `c`', '\\~\\~s\\~\\~ \\`c\\`'],
    ['a table cell', 'a | b', 'a \\| b'],
    ['a heading after a line break', 'x\n# H', 'x # H'],
    ['a heading at the start', '# H', '\\# H'],
    ['a list at the start', '- item', '\\- item'],
    ['an ordered list at the start', '12) item', '12\\) item'],
    ['a quote at the start', '> q', '\\> q'],
    ['a setext underline', '===', '\\==='],
    ['an entity', '&lt;b&gt; &#91;', '\\&lt;b\\&gt; \\&#91;'],
    ['a backslash', 'a\\', 'a\\\\'],
    ['controls, tabs, CRLF, U+2028, a bidi override', 'a\t\u0000b\r\n\u2028c\u202Ed', 'a b c d'],
    ['plain text is left alone', 'ANC < 0.5 (x) on 2026-03-01: 1.2', 'ANC < 0.5 (x) on 2026-03-01: 1.2'],
  ])('%s', (_what, input, expected) => {
    expect(mdText(input)).toBe(expected);
    expect(md.render(`- ${mdText(input)}`)).toBe(`<ul>\n<li>${html(oneLine(input))}</li>\n</ul>\n`);
  });
});

test('mdText takes one pass however long the text (200,000 letters, then ":/")', () => {
  // A backtracking step took 3.4 s for 80,000 letters not followed by "//", and grows with the square
  // of the length (some 20 s here). One pass takes a few milliseconds: a second is a bound on the
  // shape of the work, not a timing.
  const letters = 'a'.repeat(200_000);
  const started = performance.now();
  expect(mdText(`${letters}:/x`)).toBe(`${letters}:/x`);
  expect(performance.now() - started).toBeLessThan(1000);
});

describe('recordText: record text as a message quotes it', () => {
  test.each([
    ['short text unchanged', 'mg/dL', 10, 'mg/dL'],
    ['exactly max characters', 'abcdefghij', 10, 'abcdefghij'],
    ['one over max: max − 1 and …', 'abcdefghijk', 10, 'abcdefghi…'],
    ['a space before the cut is dropped', 'abcdefgh jklm', 10, 'abcdefgh…'],
    ['line breaks collapse before counting', 'a\n\n\nb', 3, 'a b'],
    ['emoji count as one character each', '😀😀😀', 3, '😀😀😀'],
    ['a cut never splits a surrogate pair', '😀😀😀😀', 3, '😀😀…'],
  ])('%s', (_what, input, max, expected) => {
    expect(recordText(input, max)).toBe(expected);
  });

  test('a megabyte of text becomes 60 characters', () => {
    expect(recordText('x'.repeat(1_000_000))).toBe(`${'x'.repeat(59)}…`);
  });
});

/** Strings a record might hold: anything, and markdown, HTML and URLs in particular. */
const hostile: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom(
        '[Order G-CSF](https://evil.example)',
        '![i](http://e.example/x.png)',
        '<script>alert(1)</script>',
        '<img src=x onerror=alert(1)>',
        '\n# Heading\n',
        '\n\n- item\n1. item\n',
        '| a | b |\n|---|---|',
        '**bold** _it_ ~~del~~ `code`',
        'www.evil.example',
        'https://evil.example/p?q=1',
        'mail@evil.example',
        '[ref]: http://evil.example',
        '&lt;&#x5B;&amp;',
        '\\',
        '\u202Eevil\u202C',
        '//evil.example/x',
        '[x] ',
        `${'a'.repeat(40)}://`,
        '   ',
        '---',
      ),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''));

describe('mdText: any text renders as that text (fast-check)', () => {
  test('in a list item and in a table cell: text only, the same text', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const shown = html(oneLine(text));
        expect(md.render(`- ${mdText(text)}`)).toBe(`<ul>\n<li>${shown}</li>\n</ul>\n`);
        const cell = md.render(`| Value |\n|---|\n| ${mdText(text)} |`);
        expect(cell).toContain(`<tbody>\n<tr>\n<td>${shown}</td>\n</tr>\n</tbody>`);
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * A patient on day +10 with severe neutropenia whose record carries `text` in four places: the unit
 * of an ANC (after "§ ", so that it is never a unit we read), the data-absent reason of a later ANC,
 * the status of a platelet count (after "§ ", never a status we know), and the name of an undated
 * CAR-T infusion procedure.
 */
function recordWith(text: string): FhirResource[] {
  const unreadUnit = obs('751-8', 0.2, `§ ${text}`, 9, { unitText: 'yes' });
  const absent: Observation = { ...obs('751-8', undefined, undefined, 10), dataAbsentReason: { text } };
  const status = { ...plt(8, 40), status: `§ ${text}` } as unknown as Observation;
  const cpt = infusionProcedure(0);
  const undated: Procedure = { ...cpt, code: { ...cpt.code, text } };
  delete undated.performedDateTime;
  return [infusion(0), ...series(anc, 1, [0.3, null, 0.2, null, 0.1, null, 0.15]), unreadUnit, absent, status, undated];
}

const context = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined };

function patientCards(text: string): Card[] {
  return patientViewCards(assessOn(10, recordWith(text)), clinical.thresholds, context);
}

/** The cards order-sign gives for a tocilizumab order named by free text only. */
function orderCardsFor(text: string): Card[] {
  const order: MedicationRequest = {
    ...tocilizumabOrder('p1'),
    medicationCodeableConcept: { text: `tocilizumab ${text}` },
  };
  const advised = adviseOn(order, order.medicationCodeableConcept, testTerminology());
  const a = assessOn(10, recordWith(text));
  return orderCards(a, advised ? [advised] : [], testTerminology(), clinical.thresholds, context);
}

describe("cards: the record's text adds no structure (fast-check, against the same record with plain words)", () => {
  test.each([
    ['patient-view', patientCards],
    ['order-sign', orderCardsFor],
  ] as const)('%s', (_hook, cardsFor) => {
    const plain = cardsFor('plain words');
    expect(plain.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(hostile, (text) => {
        const cards = cardsFor(text);
        expect(cards.map((c) => cardSchema.safeParse(c).success)).toEqual(cards.map(() => true));
        expect(cards.map((c) => structure(c.detail ?? ''))).toEqual(plain.map((c) => structure(c.detail ?? '')));
      }),
      { numRuns: 60 },
    );
  });

  test('what the record said is shown as text, on one line and cut short', () => {
    const text = `[Order](https://evil.example)\n# H <b>x</b> | ${'y'.repeat(100)}`;
    const rendered = patientCards(text)
      .map((c) => md.render(c.detail ?? ''))
      .join('\n');
    expect(rendered).toContain(`no numeric value (${html(recordText(text))}); not used`);
    expect(rendered).toContain(`unit &quot;${html(recordText(`§ ${text}`))}&quot; cannot be read`);
    expect(rendered).toContain(`Results not used because of their status: 1 ${html(recordText(`§ ${text}`, 30))}.`);
    // The only links are the sources' DOIs, which a linkifying client links itself.
    expect(rendered).toContain('<a href="https://doi.org/');
    expect(rendered.match(/<a (?!href="https:\/\/doi\.org\/)|<img|<h\d|<b>|<script/g)).toBeNull();
  });
});

describe("the hospital's configuration is shown as text too, and bounded", () => {
  const HOSTILE_NAME = 'Kymriah](https://evil.example) <img src=x onerror=alert(1)> **x**';

  test('a local CAR-T product name: the summary card shows it as text', () => {
    const terminology = testTerminology({
      'car-t-product': [{ system: 'urn:local', code: 'kym', product: HOSTILE_NAME }],
    });
    const resources = [administration('urn:local', 'kym', 0), ...series(anc, 1, [0.3, 0.2])];
    const a = assessOn(3, resources, { terminology });
    const summary = patientViewCards(a, clinical.thresholds, context).find((c) => c.detail?.includes('after Kymriah'));
    expect(summary).toBeDefined();
    const rendered = md.render(summary?.detail ?? '');
    expect(rendered).toContain(`<strong>Day +3 after ${html(HOSTILE_NAME)}</strong>`);
    expect(rendered.match(/<a |<img/g)).toBeNull();
  });

  test.each([
    ['a line break', { product: 'Kymriah\n# Heading' }, 'codes.car-t-product.0.product: must be one line of text'],
    ['81 characters', { product: 'k'.repeat(81) }, 'codes.car-t-product.0.product: Too big'],
    ['a lab label of 201 characters', { display: 'd'.repeat(201) }, 'codes.car-t-product.0.display: Too big'],
  ])('a local code name with %s is a configuration error naming it', (_what, name, problem) => {
    const dir = mkdtempSync(join(tmpdir(), 'local-codes-'));
    const file = join(dir, 'local-codes.json');
    writeFileSync(
      file,
      JSON.stringify({ codes: { 'car-t-product': [{ system: 'urn:local', code: 'kym', ...name }] } }),
    );
    try {
      expect(() => loadLocalCodes(file)).toThrow(ConfigError);
      expect(() => loadLocalCodes(file)).toThrow(problem);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("the thresholds file's source: its label as text, a URL with markdown in it as text", () => {
    const file = {
      source: { label: 'Our SOP [click](https://evil.example) <img src=x>', url: 'https://sop.example/a)b' },
      counts: { neutrophils: { severe: 0.6 } },
    };
    const thresholds = parseThresholds(file);
    const a = assessOn(10, [infusion(0), ...series(anc, 1, [0.3, null, 0.2, null, 0.1, null, 0.15])], {
      thresholdsFile: file,
    });
    const card = patientViewCards(a, thresholds, context).find((c) => c.detail?.includes('Threshold in force'));
    const rendered = md.render(card?.detail ?? '');
    expect(rendered).toContain('Our SOP [click](https://evil.example) &lt;img src=x&gt;');
    expect(rendered).toContain('(https://sop.example/a)b)');
    expect(rendered.match(/<a (?!href="https:\/\/doi\.org\/)|<img/g)).toBeNull();
  });

  test('many CAR-T infusions: the message lists five dates at most', () => {
    const a = assessOn(
      40,
      [0, 5, 10, 15, 20, 25, 30].map((day) => infusion(day)),
    );
    const message = a.issues.find((i) => i.code === 'infusion')?.message;
    expect(message).toBe(
      '7 CAR-T infusions recorded (2026-03-01, 2026-03-06, 3 more, 2026-03-26, 2026-03-31); day 0 is the latest',
    );
  });
});

test("fhirServer's origin is quoted cut short: a long host name reaches every card's data-unavailable note", () => {
  const host = `${'a'.repeat(3000)}.example`;
  const why = checkFhirServer(`https://${host}/fhir`, { allowHttp: false, allowedOrigins: ['https://ehr.example'] });
  expect(why).toBe(`fhirServer origin ${recordText(`https://${host}`)} is not in FHIR_ALLOWED_ORIGINS`);
  expect(why?.length).toBeLessThan(120);
});
