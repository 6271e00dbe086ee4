/**
 * Text from the input (file and folder names, paths, arguments, ids, keys) as the CLI prints it on
 * stderr, which is often a terminal: a name holding ESC could move the cursor, retitle the window or
 * clear the screen, and one holding a line end could forge a line of the report.
 */

/** C0 and C1 controls and DEL, the line and paragraph separators, and the bidirectional overrides and isolates (which reorder what is shown). */
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * `text` with each control character written as an escape (`\x1b`, `\n` as `\x0a`, `\u202e`); the
 * rest unchanged, so that applying it twice changes nothing more.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
