/**
 * The print tests' PDF reader (test/e2e/pdf-text.ts) must read every page whatever bytes its
 * compressed streams end with. A content stream whose deflated data ended in \r lost that byte (the
 * reader took `\r\n` before `endstream` for the end of line), failed to inflate, and the page read as
 * empty: the print test failed for the minute whose printed time gave such a stream.
 */
import { describe, expect, test } from '@jest/globals';
import { deflateSync } from 'node:zlib';
import { pdfPageTexts } from '../e2e/pdf-text.js';

/** A one-page PDF in Skia's shape: Flate content stream, Type0 font with a ToUnicode CMap. */
function onePagePdf(text: string, pad: number, indirectLength = false): { pdf: Buffer; lastByte: number } {
  const hex = [...text].map((c) => (c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')).join('');
  const content = deflateSync(
    Buffer.from(`BT /F1 12 Tf 72 720 Td <${hex}> Tj ET % ${String.fromCharCode(pad)}\n`, 'latin1'),
  );
  const cmap = Buffer.from('beginbfrange\n<0000> <FFFF> <0000>\nendbfrange', 'latin1');
  const stream = (n: number, dict: string, data: Buffer): Buffer =>
    Buffer.concat([
      Buffer.from(`${n} 0 obj\n<<${dict} /Length ${indirectLength ? `1${n} 0 R` : data.length}>> stream\n`, 'latin1'),
      data,
      Buffer.from('\nendstream\nendobj\n', 'latin1'),
    ]);
  const pdf = Buffer.concat([
    Buffer.from('%PDF-1.4\n1 0 obj\n<</Type /Pages /Kids [2 0 R] /Count 1>>\nendobj\n', 'latin1'),
    Buffer.from('2 0 obj\n<</Type /Page /Resources <</Font <</F1 3 0 R>>>> /Contents 5 0 R>>\nendobj\n', 'latin1'),
    Buffer.from('3 0 obj\n<</Type /Font /Subtype /Type0 /ToUnicode 4 0 R>>\nendobj\n', 'latin1'),
    stream(4, '', cmap),
    stream(5, '/Filter /FlateDecode', content),
    Buffer.from('%%EOF\n', 'latin1'),
  ]);
  return { pdf, lastByte: content.at(-1) ?? 0 };
}

/**
 * A page with `text` drawn, whose deflated content stream ends with `byte`: zlib's last byte is the
 * low byte of the Adler-32 sum of the content, which a one-byte comment after the text varies.
 */
function pageEndingIn(byte: number, text: string, indirectLength = false): Buffer {
  for (let pad = 32; pad < 256; pad++) {
    const { pdf, lastByte } = onePagePdf(text, pad, indirectLength);
    if (lastByte === byte) return pdf;
  }
  throw new Error(`no comment found whose stream ends with ${byte}`);
}

describe('pdfPageTexts', () => {
  test.each([
    ['\\r (the end of line Skia writes is \\n: the data keeps its \\r)', 0x0d],
    ['\\n', 0x0a],
    ['a byte that is not an end of line', 0x41],
  ])('reads a page whose compressed content stream ends with %s', (_, byte) => {
    const text = 'Printed 2026-11-22 15:45';
    expect(pdfPageTexts(pageEndingIn(byte, text))).toEqual([text]);
  });

  test('a /Length given as a reference (`15 0 R`) is not read as a length of 15 (nor 1): the end of line is guessed', () => {
    const text = 'Printed 2026-11-22 15:45';
    expect(pdfPageTexts(pageEndingIn(0x41, text, true))).toEqual([text]);
  });
});
