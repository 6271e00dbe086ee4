/**
 * Plain text into a card's markdown. A card's `detail` is GitHub-flavoured markdown (CDS Hooks 2.0);
 * the engine's messages, reasons and notes are plain text, and some quote the record (a unit, a
 * data-absent reason, a drug's name), which is input. Every such string goes into a card through
 * {@link mdText}, so that the record cannot add a link, an image, HTML, a heading, a list, a table
 * cell or emphasis to a card, nor end the list item or table row it is shown in.
 */
import { oneLine } from '../clinical/record-text.js';

/**
 * `text` as inline markdown that renders as that text, on one line:
 *
 * - line breaks and control characters become spaces (src/clinical/record-text.ts);
 * - `\`, `` ` ``, `*`, `_`, `|` and `~` are escaped everywhere; `<` where it could open HTML or an
 *   autolink, `]` where it could close a link, an image or a link definition, `&` where it could
 *   open an entity;
 * - the first character when it could open a block (a heading, quote, list, thematic break, or the
 *   `[x]` of a task-list item);
 * - the first `/` of every `//` (`https://`, a protocol-relative `//host`), the `.` of `www.` and
 *   `@`, so that autolinks do not turn an address in the text into a link. A renderer that also
 *   links bare domain names (`example.org`) still may; what it shows is then the address itself,
 *   not a disguise.
 *
 * Every step is one linear pass: the text is input, and may be long.
 */
export function mdText(text: string): string {
  return oneLine(text)
    .replace(/[\\`*_|~@]/g, '\\$&')
    .replace(/<(?=[A-Za-z/!?])/g, '\\<')
    .replace(/\](?=[([:])/g, '\\]')
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, '\\&')
    .replace(/\/(?=\/)/g, '\\/')
    .replace(/\b(www)\./gi, '$1\\.')
    .replace(/^([#>+=[-])/, '\\$1')
    .replace(/^(\d+)([.)])/, '$1\\$2');
}
