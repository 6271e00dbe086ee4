/**
 * The timeline: an events lane (only the kinds this patient had, with a legend of those) above one
 * uPlot lane per analyte (lane.ts) on a shared day axis (day 0 = CAR-T infusion). Cursors are
 * synchronised, so hovering one lane shows that day's values in every lane's readout.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Assessment, EventKind } from '../clinical/types.js';
import {
  EVENT_STYLE,
  eventRuns,
  PADDING,
  verticalLine,
  Y_AXIS_SIZE,
  type EventRun,
  type LaneSpec,
} from './chart-common.js';
import { h } from './dom.js';
import { LANE_HEIGHT, lanePlot } from './lane.js';

const ROW = 14;

/** The events lane above the counts: one row per kind the patient had, one bar per run. */
function eventStrip(
  container: HTMLElement,
  runs: EventRun[],
  kinds: EventKind[],
  width: number,
  range: () => [number, number],
): uPlot {
  const plotBox = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const summary =
    kinds.length > 0
      ? `Events: ${kinds.map((k) => EVENT_STYLE[k].label).join(', ')} (listed by date under Events).`
      : 'No events recorded.';
  const wrapper = h(
    'figure',
    { class: 'lane events-lane', 'data-testid': 'event-strip' },
    h('figcaption', {}, h('span', { class: 'lane-title' }, 'Events')),
    h('p', { class: 'visually-hidden' }, summary),
    plotBox,
  );
  container.append(wrapper);
  const [min, max] = range();
  return new uPlot(
    {
      width,
      height: 30 + Math.max(1, kinds.length) * ROW,
      cursor: { sync: { key: 'cart-timeline' }, drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: false, auto: false, range: () => range() }, y: { auto: false, range: [0, 1] } },
      padding: PADDING,
      axes: [
        { size: 4, ticks: { show: false }, values: () => [] },
        {
          size: Y_AXIS_SIZE,
          label: '',
          labelSize: 16,
          ticks: { show: false },
          grid: { show: false },
          values: () => [],
        },
      ],
      series: [{}, { show: false }],
      hooks: { draw: [(u) => drawEvents(u, runs, kinds, range())] },
    },
    [
      [min, max],
      [null, null],
    ],
    plotBox,
  );
}

function drawEvents(
  u: uPlot,
  runs: readonly EventRun[],
  kinds: readonly EventKind[],
  [lo, hi]: [number, number],
): void {
  const { ctx, bbox } = u;
  const px = devicePixelRatio;
  const x = (day: number): number => u.valToPos(day, 'x', true);
  ctx.save();
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  if (0 >= lo && 0 <= hi) verticalLine(u, 0, '#111', 2);
  kinds.forEach((kind, i) => {
    const style = EVENT_STYLE[kind];
    const y = bbox.top + 4 * px + i * ROW * px;
    ctx.fillStyle = style.color;
    ctx.textAlign = 'right';
    ctx.fillText(style.code, bbox.left - 6 * px, y + 10 * px);
    for (const r of runs.filter((r) => r.kind === kind && r.toDay >= lo && r.fromDay <= hi)) {
      const x0 = Math.max(bbox.left, x(r.fromDay) - 3 * px);
      const x1 = Math.min(bbox.left + bbox.width, x(r.toDay) + 3 * px);
      ctx.fillRect(x0, y + 2 * px, Math.max(5 * px, x1 - x0), 9 * px);
    }
  });
  ctx.restore();
}

/** The legend of the events lane: only the kinds this patient had, and what the shading means. */
export function eventLegend(a: Assessment): HTMLElement[] {
  const kinds = [...new Set(eventRuns(a.events ?? []).map((r) => r.kind))];
  return [
    ...kinds.map((k) =>
      h('span', { class: 'legend-item', 'data-kind': k }, h('b', {}, EVENT_STYLE[k].code), ` ${EVENT_STYLE[k].label}`),
    ),
    h(
      'span',
      { class: 'legend-item' },
      'Each point is the lowest value of its day. Shading: CTCAE grade 1–4; dashed red: severe threshold',
    ),
  ];
}

export interface Timeline {
  setRange(min: number, max: number): void;
  resize(width: number): void;
  /** Printing: count lanes redrawn at the page's width and a lower height (PRINT_LANE_HEIGHT); off: as before. */
  print(on: boolean, width: number): void;
  destroy(): void;
}

/** Height of a count lane on paper (on screen: 170 px), so that a typical patient fits two A4 pages. */
const PRINT_LANE_HEIGHT = 118;

export function renderTimeline(
  container: HTMLElement,
  a: Assessment,
  t: HospitalThresholds,
  lanes: LaneSpec[],
  range: [number, number],
): Timeline {
  container.replaceChildren();
  const plots: uPlot[] = [];
  const runs = eventRuns(a.events ?? []);
  const kinds = [...new Set(runs.map((r) => r.kind))];
  const width = Math.max(320, container.clientWidth);
  let [min, max] = range;
  const view = (): [number, number] => [min, max];

  plots.push(eventStrip(container, runs, kinds, width, view));
  for (const lane of lanes) plots.push(lanePlot(container, { a, t, lane, runs, width, view }));

  return {
    setRange(newMin: number, newMax: number): void {
      min = newMin;
      max = newMax;
      for (const p of plots) p.setScale('x', { min, max });
    },
    resize(newWidth: number): void {
      for (const p of plots) p.setSize({ width: Math.max(320, newWidth), height: p.height });
    },
    print(on: boolean, newWidth: number): void {
      plots.forEach((p, i) => {
        const height = i === 0 ? p.height : on ? PRINT_LANE_HEIGHT : LANE_HEIGHT;
        p.setSize({ width: Math.max(320, newWidth), height });
      });
    },
    destroy(): void {
      for (const p of plots) p.destroy();
      container.replaceChildren();
    },
  };
}
