/**
 * The text alternative of every chart: a one-line summary anyone can read (and a screen reader
 * reads instead of the canvas), the value readout under a lane (the latest value until the user
 * hovers a day), and the values as a table the user can open.
 */
import { below as isBelow, compareMeasured, type Measured } from '../clinical/bounds.js';
import { dayLabel, fmt, fmtMeasured } from '../clinical/format.js';
import type { LabDay } from '../clinical/types.js';
import { h } from './dom.js';

/** A value as reported ("<0.1" for a bound), with its unit. */
const withUnit = (m: Measured, unit: string): string => `${fmtMeasured(m)}${unit ? ` ${unit}` : ''}`;

/**
 * "Latest: 0.18 ×10⁹/L on day +33 (2026-11-20)", or that there is none. `latest` is the engine's
 * latest value (what the summary tiles show); the chart's points are each day's lowest value.
 */
export function latestText(
  days: readonly LabDay[],
  unit: string,
  latest?: Pick<LabDay, 'value' | 'comparator' | 'date'> & { day: number | null },
): string {
  const last = latest ?? days.at(-1);
  return last ? `Latest: ${withUnit(last, unit)} on ${dayLabel(last.day)} (${last.date})` : 'No values';
}

/** The readout while the cursor is on a day. */
export function hoverText(day: LabDay, unit: string): string {
  return `${dayLabel(day.day)} (${day.date}): ${withUnit(day, unit)}`;
}

/** "32 values from day −7 to +33; lowest since day 0: 0.08 on day +3; latest: …". */
export function chartSummary(
  label: string,
  days: readonly LabDay[],
  unit: string,
  threshold?: number,
  latest?: Parameters<typeof latestText>[2],
): string {
  if (days.length === 0) return `${label}: no values in this record.`;
  const first = days[0] as LabDay;
  const since = days.filter((d) => d.day >= 0);
  const lowest = since.reduce<LabDay | undefined>(
    (low, d) => (low === undefined || compareMeasured(d, low) < 0 ? d : low),
    undefined,
  );
  const below = threshold === undefined ? [] : since.filter((d) => isBelow(d, threshold));
  return [
    `${label}: ${days.length} value${days.length === 1 ? '' : 's'} from ${dayLabel(first.day)} to ${dayLabel(days.at(-1)?.day ?? first.day)}`,
    lowest ? `lowest since day 0 ${withUnit(lowest, unit)} on ${dayLabel(lowest.day)}` : null,
    threshold === undefined ? null : `below ${fmt(threshold)} on ${below.length} day${below.length === 1 ? '' : 's'}`,
    latestText(days, unit, latest).replace(/^Latest/, 'latest'),
  ]
    .filter(Boolean)
    .join('; ')
    .concat('.');
}

/** The values as a table, closed until the user opens it (not printed). */
export function dataTable(label: string, days: readonly LabDay[], unit: string): HTMLElement | null {
  if (days.length === 0) return null;
  const rows = [...days]
    .reverse()
    .map((d) => h('tr', {}, h('td', {}, d.date), h('td', {}, dayLabel(d.day)), h('td', {}, withUnit(d, unit))));
  return h(
    'details',
    { class: 'chart-data' },
    h('summary', {}, `${label} values as a table`),
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, `${label}, newest first`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Date'),
          h('th', { scope: 'col' }, 'Day'),
          h('th', { scope: 'col' }, label),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
  );
}
