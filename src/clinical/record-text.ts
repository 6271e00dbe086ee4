/**
 * Text a record supplies (a unit, a data-absent reason, a status, a drug's or a procedure's name) as
 * the engine's messages quote it. The record is input: its text may hold line breaks, control or
 * bidirectional-override characters, or run to megabytes, and every message that quotes it ends up
 * in a card, a CSV cell, a log line or a JSON answer. Messages stay plain text; the cards escape
 * them for markdown (src/cards/markdown.ts).
 */

/**
 * Line breaks, tabs and other control characters (C0, C1, U+2028/U+2029), the marks that reorder
 * or hide text (bidirectional overrides and isolates, zero-width characters, the byte order mark),
 * and whitespace: each run of them becomes one space.
 */
const BREAKS = /[\s\p{Cc}\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+/gu;

/** `text` on one line: see {@link BREAKS}; no space at either end. */
export function oneLine(text: string): string {
  return text.replace(BREAKS, ' ').trim();
}

/** Record text as a message quotes it: on one line, and at most `max` characters (then "…"). */
export function recordText(text: string, max = 60): string {
  const line = oneLine(text);
  if (line.length <= max) return line;
  let kept = '';
  let n = 0;
  for (const ch of line) {
    // Characters, not UTF-16 units: a cut never splits a surrogate pair.
    if (n === max) return `${kept.trimEnd()}…`; // more than `max`: the first max − 1, and "…"
    if (n < max - 1) kept += ch;
    n++;
  }
  return line;
}
