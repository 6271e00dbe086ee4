/**
 * JSON text from bytes: one decoding rule for request bodies (src/cds-hooks/json-body.ts) and for
 * fhirServer's answers (gateway.ts). UTF-8 (RFC 8259 §8.1) unless the content type's charset says
 * UTF-16; a byte order mark is skipped; bytes that are not valid in their encoding are refused
 * rather than turned into U+FFFD, and any other charset is refused by name.
 */
import { isUtf8 } from 'node:buffer';

/** Why bytes are not JSON text: a charset we do not read, or bytes invalid in their encoding. */
export class TextDecodingError extends Error {
  constructor(
    readonly reason: 'charset' | 'invalid-bytes',
    /** The charset declared (lower case), or `utf-8` when none was. */
    readonly charset: string,
    message: string,
  ) {
    super(message);
    this.name = 'TextDecodingError';
  }
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;
const UTF16 = new Set(['utf-16', 'utf-16le', 'utf-16be']);

/** The charset a content type declares, lower case; `utf-8` when it declares none. */
export function charsetOf(contentType: string | undefined): string {
  return CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase() ?? 'utf-8';
}

/**
 * The text of a JSON body, without its byte order mark. Throws {@link TextDecodingError} (whose
 * message completes "a body with …" / "the body is …") for another charset or invalid bytes.
 */
export function decodeJsonText(raw: Buffer, contentType: string | undefined): string {
  const charset = charsetOf(contentType);
  if (charset === 'utf-8' || charset === 'utf8') {
    // isUtf8 runs at several GB/s; toString would turn invalid bytes into U+FFFD without a word.
    if (!isUtf8(raw)) throw new TextDecodingError('invalid-bytes', 'utf-8', 'bytes that are not valid UTF-8');
    const bom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
    return (bom ? raw.subarray(3) : raw).toString('utf8');
  }
  if (UTF16.has(charset)) {
    try {
      // TextDecoder skips the byte order mark itself (ignoreBOM is false by default).
      return new TextDecoder(charset, { fatal: true }).decode(raw);
    } catch {
      throw new TextDecodingError('invalid-bytes', charset, 'bytes that are not valid UTF-16');
    }
  }
  // The sender's text reaches a message only when it looks like a charset name.
  const named = /^[\w.:+-]{1,40}$/.test(charset) ? `charset ${charset}` : 'an unknown charset';
  throw new TextDecodingError('charset', charset, `${named}, not UTF-8 or UTF-16`);
}

/** `"` and `\` in JSON text. */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text holds more than `max` values, counted before parsing it: what JSON.parse would
 * build is bounded by its bytes only loosely (16 MB of `{},` are five million objects, some 500 MB
 * of heap), so bodies are bounded by this count too. The count is one for the top value, and one for
 * each `{`, `[`, `,` and `:` outside strings (each object or array, and each further element, member
 * name and member value, near enough). A text no longer than `max` cannot hold more, and is not scanned.
 */
export function jsonValuesOver(text: string, max: number): boolean {
  return text.length > max && jsonValueCount(text, max) > max;
}

/**
 * The JSON values of a non-empty text, counted as {@link jsonValuesOver} says; the count stops as
 * soon as it passes `stopAbove` (then it is `stopAbove + 1`).
 */
export function jsonValueCount(text: string, stopAbove = Infinity): number {
  let count = 1; // the top value
  if (count > stopAbove) return count;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if ((c === 0x7b || c === 0x5b || c === 0x2c || c === 0x3a) && ++count > stopAbove) return count;
  }
  return count;
}

/** The index of the quote that ends the string opened at `start` (the text's length when none does). */
function stringEnd(text: string, start: number): number {
  let end = start;
  for (;;) {
    end = text.indexOf('"', end + 1);
    if (end < 0) return text.length;
    let k = end - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((end - 1 - k) % 2 === 0) return end; // an even run of backslashes escapes itself, not the quote
  }
}
