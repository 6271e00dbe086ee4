/**
 * The loading screen: which reads are running, how much each has read, and which failed or were
 * unavailable. No controls: there is nothing the user can do while the record is read.
 */
import { h } from './dom.js';
import { QUERY_LABELS, type QueryProgress } from './fhir-data.js';

/** "12 read (2 pages) ✓", "3 read…", "failed" or "not available". */
function progressText(p: QueryProgress): string {
  if (p.state === 'failed') return 'failed';
  if (p.state === 'unavailable') return 'not available';
  return `${p.resources} read${p.pages > 1 ? ` (${p.pages} pages)` : ''}${p.state === 'done' ? ' ✓' : '…'}`;
}

export function progressView(progress: Map<string, QueryProgress>): HTMLElement {
  return h(
    'div',
    {},
    h('strong', {}, 'Reading the record…'),
    h(
      'ul',
      { class: 'progress', 'data-testid': 'progress' },
      ...[...progress.values()].map((p) =>
        h('li', { 'data-state': p.state }, `${QUERY_LABELS[p.key]}: ${progressText(p)}`),
      ),
    ),
  );
}
