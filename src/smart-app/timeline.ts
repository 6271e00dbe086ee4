/**
 * The timeline: one uPlot lane per analyte on a shared day axis (day 0 = CAR-T infusion), with the
 * CTCAE grade bands shaded, the severe threshold drawn, day 0 marked, and the events (G-CSF,
 * transfusions, tocilizumab, steroids, IVIG) on every lane. Cursors are synchronised.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { boundaries, defaultLln, type Boundaries } from '../clinical/ctcae.js';
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Analyte, Assessment, ClinicalEvent, CtcaeTerm, EventKind, LabDay } from '../clinical/types.js';
import { displayUnit } from '../clinical/units.js';
import { h } from './dom.js';

export interface LaneSpec {
  analyte: Analyte;
  label: string;
  term?: CtcaeTerm;
  /** Horizontal lines: the severe threshold and others (ICAHT ANC 0.1, IVIG IgG). */
  lines: { value: number; label: string; strong?: boolean }[];
  color: string;
}

export const EVENT_STYLE: Record<EventKind, { code: string; label: string; color: string }> = {
  'car-t': { code: 'CAR-T', label: 'CAR-T infusion', color: '#1a1a1a' },
  lymphodepletion: { code: 'LD', label: 'Lymphodepletion', color: '#6b4f2a' },
  'g-csf': { code: 'G', label: 'G-CSF', color: '#1b7f3b' },
  'red-cell-transfusion': { code: 'RBC', label: 'Red cell transfusion', color: '#b3261e' },
  'platelet-transfusion': { code: 'PLT', label: 'Platelet transfusion', color: '#c26a00' },
  'transfusion-unspecified': { code: 'TX', label: 'Transfusion (product not coded)', color: '#8a5a00' },
  tocilizumab: { code: 'Toci', label: 'Tocilizumab', color: '#5b3fa8' },
  corticosteroid: { code: 'Ster', label: 'Corticosteroid', color: '#2b5fa8' },
  ivig: { code: 'IVIG', label: 'IVIG', color: '#00727a' },
  crs: { code: 'CRS', label: 'CRS', color: '#7a0050' },
};

/** Same plot-area edges on every lane, whatever the tick labels (so events line up with values). */
const PADDING: uPlot.Padding = [10, 24, 0, null];

const BAND_COLORS = [
  'rgba(255, 220, 120, 0.18)',
  'rgba(255, 170, 90, 0.20)',
  'rgba(240, 110, 80, 0.20)',
  'rgba(200, 40, 40, 0.20)',
];

export function laneSpecs(a: Assessment, t: HospitalThresholds, extra: readonly Analyte[]): LaneSpec[] {
  const v = t.values;
  const lanes: LaneSpec[] = [
    {
      analyte: 'anc',
      label: 'ANC',
      term: 'neutrophils',
      color: '#1d4ed8',
      lines: [
        { value: v.severe.anc, label: `severe < ${v.severe.anc}`, strong: true },
        { value: v.icaht.early.anc100, label: `ICAHT ≤ ${v.icaht.early.anc100}` },
      ],
    },
    {
      analyte: 'platelets',
      label: 'Platelets',
      term: 'platelets',
      color: '#b45309',
      lines: [{ value: v.severe.platelets, label: `severe < ${v.severe.platelets}`, strong: true }],
    },
    {
      analyte: 'hemoglobin',
      label: 'Hemoglobin',
      term: 'hemoglobin',
      color: '#b91c1c',
      lines: [{ value: v.severe.hemoglobin, label: `severe < ${v.severe.hemoglobin}`, strong: true }],
    },
    { analyte: 'wbc', label: 'WBC', term: 'wbc', color: '#0f766e', lines: [] },
    { analyte: 'lymphocytes', label: 'Lymphocytes', term: 'lymphocytes', color: '#7c3aed', lines: [] },
  ];
  // The three counts always (an empty lane says so); WBC and lymphocytes when asked for and measured.
  const always: Analyte[] = ['anc', 'platelets', 'hemoglobin'];
  return lanes.filter(
    (l) => always.includes(l.analyte) || (extra.includes(l.analyte) && (a.series?.[l.analyte]?.length ?? 0) > 0),
  );
}

function lln(
  a: Assessment,
  t: HospitalThresholds,
  term: CtcaeTerm | undefined,
  days: readonly LabDay[],
): number | undefined {
  const fromLab = days.find((d) => d.lln !== undefined)?.lln;
  return fromLab ?? (term ? defaultLln(term, t.values, a.sex) : undefined);
}

/** Grade bands [from, to) from the CTCAE boundaries: grade 4 at the bottom, grade 1 up to the LLN. */
function bands(
  b: Boundaries | undefined,
  lowerLimit: number | undefined,
): { from: number; to: number; grade: number }[] {
  if (!b || lowerLimit === undefined) return [];
  const out: { from: number; to: number; grade: number }[] = [];
  if (b.grade4 !== undefined) out.push({ from: 0, to: b.grade4, grade: 4 });
  out.push(
    { from: b.grade4 ?? 0, to: b.grade3, grade: 3 },
    { from: b.grade3, to: b.grade2, grade: 2 },
    { from: b.grade2, to: lowerLimit, grade: 1 },
  );
  return out.filter((x) => x.to > x.from);
}

/** The events lane above the counts: one row per kind, one bar per run, labels in the axis gutter. */
function eventStrip(
  container: HTMLElement,
  runs: EventRun[],
  kinds: EventKind[],
  width: number,
  range: () => [number, number],
  dateOfDay: (day: number) => string,
): uPlot {
  const row = 14;
  const wrapper = h(
    'figure',
    { class: 'lane events-lane', 'data-testid': 'event-strip' },
    h('figcaption', {}, 'Events'),
  );
  container.append(wrapper);
  const [min, max] = range();
  const xs = [min, max];
  return new uPlot(
    {
      width,
      height: 30 + Math.max(1, kinds.length) * row,
      cursor: { sync: { key: 'cart-timeline' }, drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: false, auto: false, range: () => range() }, y: { auto: false, range: [0, 1] } },
      padding: PADDING,
      axes: [
        { size: 4, ticks: { show: false }, values: () => [] },
        { size: 60, label: '', labelSize: 16, ticks: { show: false }, grid: { show: false }, values: () => [] },
      ],
      series: [{ value: (_u, v) => (v === null || v === undefined ? '–' : dateOfDay(v)) }, { show: false }],
      hooks: {
        draw: [
          (u) => {
            const { ctx, bbox } = u;
            const px = devicePixelRatio;
            const [lo, hi] = range();
            const x = (day: number): number => u.valToPos(day, 'x', true);
            ctx.save();
            ctx.font = `${11 * px}px system-ui, sans-serif`;
            if (0 >= lo && 0 <= hi) verticalLine(u, 0, '#111', 2);
            kinds.forEach((kind, i) => {
              const style = EVENT_STYLE[kind];
              const y = bbox.top + 4 * px + i * row * px;
              ctx.fillStyle = style.color;
              ctx.fillText(style.code, bbox.left - ctx.measureText(style.code).width - 6 * px, y + 10 * px);
              for (const r of runs.filter((r) => r.kind === kind && r.toDay >= lo && r.fromDay <= hi)) {
                const x0 = Math.max(bbox.left, x(r.fromDay) - 3 * px);
                const x1 = Math.min(bbox.left + bbox.width, x(r.toDay) + 3 * px);
                ctx.fillRect(x0, y + 2 * px, Math.max(5 * px, x1 - x0), 9 * px);
              }
            });
            ctx.restore();
          },
        ],
      },
    },
    [xs, [null, null]],
    wrapper,
  );
}

/** A full-height line at `day` (day 0, transfusions). */
function verticalLine(u: uPlot, day: number, color: string, width: number): void {
  const { ctx, bbox } = u;
  const x = u.valToPos(day, 'x', true);
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width * devicePixelRatio;
  ctx.setLineDash([]);
  ctx.beginPath();
  ctx.moveTo(x, bbox.top);
  ctx.lineTo(x, bbox.top + bbox.height);
  ctx.stroke();
  ctx.restore();
}

export interface Timeline {
  setRange(min: number, max: number): void;
  resize(width: number): void;
  destroy(): void;
}

/** Consecutive administrations of one kind (at most one day apart) as one run: daily G-CSF is one bar. */
export interface EventRun {
  kind: EventKind;
  fromDay: number;
  toDay: number;
  fromDate: string;
  toDate: string;
  count: number;
  display: string;
}

export function eventRuns(events: readonly ClinicalEvent[]): EventRun[] {
  const runs: EventRun[] = [];
  const sorted = events.filter((e) => e.day !== null && e.kind !== 'crs').sort((a, b) => a.ms - b.ms);
  for (const e of sorted) {
    const day = e.day as number;
    const open = runs.findLast((r) => r.kind === e.kind && r.display === e.display);
    if (open && day - open.toDay <= 1) {
      open.toDay = day;
      open.toDate = e.date;
      open.count++;
    } else
      runs.push({
        kind: e.kind,
        fromDay: day,
        toDay: day,
        fromDate: e.date,
        toDate: e.date,
        count: 1,
        display: e.display,
      });
  }
  return runs;
}

/** Which events each lane marks with a vertical line (all lanes mark day 0). */
const LANE_EVENTS: Partial<Record<Analyte, EventKind[]>> = {
  anc: ['g-csf'],
  platelets: ['platelet-transfusion', 'transfusion-unspecified'],
  hemoglobin: ['red-cell-transfusion', 'transfusion-unspecified'],
};

export function renderTimeline(
  container: HTMLElement,
  a: Assessment,
  t: HospitalThresholds,
  lanes: LaneSpec[],
  range: [number, number],
  dateOfDay: (day: number) => string,
): Timeline {
  container.replaceChildren();
  const plots: uPlot[] = [];
  const runs = eventRuns(a.events ?? []);
  const kinds = [...new Set(runs.map((r) => r.kind))];
  const width = Math.max(320, container.clientWidth);
  let [min, max] = range;
  const view = (): [number, number] => [min, max];

  plots.push(eventStrip(container, runs, kinds, width, view, dateOfDay));
  for (const lane of lanes) plots.push(lanePlot(container, { a, t, lane, runs, width, view, dateOfDay }));

  return {
    setRange(newMin: number, newMax: number): void {
      min = newMin;
      max = newMax;
      for (const p of plots) p.setScale('x', { min, max });
    },
    resize(newWidth: number): void {
      for (const p of plots) p.setSize({ width: Math.max(320, newWidth), height: p.height });
    },
    destroy(): void {
      for (const p of plots) p.destroy();
      container.replaceChildren();
    },
  };
}

/** What one lane is drawn from; `view` is the day range currently shown (it changes with setRange). */
interface LaneInput {
  a: Assessment;
  t: HospitalThresholds;
  lane: LaneSpec;
  runs: EventRun[];
  width: number;
  view: () => [number, number];
  dateOfDay: (day: number) => string;
}

/** One analyte's lane: its values, grade bands, threshold lines, day 0 and its own events. */
function lanePlot(container: HTMLElement, { a, t, lane, runs, width, view, dateOfDay }: LaneInput): uPlot {
  const days = a.series?.[lane.analyte] ?? [];
  const unit = displayUnit(a.latest[lane.analyte]?.unit ?? (lane.analyte === 'hemoglobin' ? 'g/L' : '10*9/L'));
  const lower = lln(a, t, lane.term, days);
  const laneBands = bands(lane.term ? boundaries(lane.term, t.values) : undefined, lower);
  const top = Math.max(
    ...days.map((d) => d.value),
    ...(lower !== undefined ? [lower * 1.15] : []),
    ...lane.lines.map((l) => l.value * 1.3),
    1,
  );
  const empty = days.length === 0 ? h('span', { class: 'muted' }, ' – no values in this record') : null;
  const wrapper = h(
    'figure',
    { class: 'lane', 'data-analyte': lane.analyte },
    h('figcaption', {}, `${lane.label} (${unit})`, empty),
  );
  container.append(wrapper);
  const opts: uPlot.Options = {
    width,
    height: 170,
    cursor: { sync: { key: 'cart-timeline' }, drag: { x: false, y: false } },
    legend: { show: true, live: true },
    padding: PADDING,
    scales: { x: { time: false, auto: false, range: () => view() }, y: { auto: false, range: () => [0, top] } },
    axes: [
      {
        label: 'Day after CAR-T infusion',
        labelSize: 16,
        size: 34,
        values: (_u, ticks) => ticks.map((d) => (d > 0 ? `+${d}` : String(d))),
      },
      { label: unit, labelSize: 16, size: 60 },
    ],
    series: [
      {
        label: 'Day',
        value: (_u, v) => (v === null || v === undefined ? '–' : `${v > 0 ? '+' : ''}${v} (${dateOfDay(v)})`),
      },
      {
        label: lane.label,
        stroke: lane.color,
        width: 2,
        points: { show: true, size: 6, fill: lane.color },
        value: (_u, v) => (v === null || v === undefined ? '–' : `${v} ${unit}`),
      },
    ],
    hooks: {
      drawClear: [(u) => drawBands(u, laneBands, top)],
      draw: [(u) => drawLaneMarks(u, lane, runs, view())],
    },
  };
  const data: uPlot.AlignedData = [days.map((d) => d.day), days.map((d) => d.value)];
  return new uPlot(opts, data, wrapper);
}

/** The CTCAE grade bands behind the values, labelled G1–G4 where there is room. */
function drawBands(u: uPlot, laneBands: { from: number; to: number; grade: number }[], top: number): void {
  const { ctx, bbox } = u;
  ctx.save();
  for (const band of laneBands) {
    const y1 = u.valToPos(Math.min(band.to, top), 'y', true);
    const y0 = u.valToPos(band.from, 'y', true);
    ctx.fillStyle = BAND_COLORS[band.grade - 1] ?? 'transparent';
    ctx.fillRect(bbox.left, y1, bbox.width, y0 - y1);
    ctx.fillStyle = 'rgba(60, 60, 60, 0.75)';
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    if (y0 - y1 > 12 * devicePixelRatio)
      ctx.fillText(`G${band.grade}`, bbox.left + 4 * devicePixelRatio, y0 - 3 * devicePixelRatio);
  }
  ctx.restore();
}

/** Over the values: the lane's threshold lines, day 0, and the lane's own events in view. */
function drawLaneMarks(u: uPlot, lane: LaneSpec, runs: readonly EventRun[], [min, max]: [number, number]): void {
  const { ctx, bbox } = u;
  const px = devicePixelRatio;
  ctx.save();
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  for (const line of lane.lines) {
    const y = u.valToPos(line.value, 'y', true);
    ctx.strokeStyle = line.strong ? '#b3261e' : '#6b7280';
    ctx.setLineDash(line.strong ? [6 * px, 4 * px] : [2 * px, 3 * px]);
    ctx.lineWidth = (line.strong ? 1.5 : 1) * px;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(line.label, bbox.left + bbox.width - ctx.measureText(line.label).width - 4 * px, y - 3 * px);
  }
  ctx.setLineDash([]);
  const inView = (r: EventRun): boolean => r.toDay >= min && r.fromDay <= max;
  // Day 0 on every lane.
  if (0 >= min && 0 <= max) verticalLine(u, 0, '#111', 2);
  // The lane's own events as faint vertical lines (transfusions on PLT and Hb).
  ctx.lineWidth = 1 * px;
  for (const r of runs.filter((r) => inView(r) && LANE_EVENTS[lane.analyte]?.includes(r.kind) && r.kind !== 'g-csf')) {
    for (let d = r.fromDay; d <= r.toDay; d++) verticalLine(u, d, `${EVENT_STYLE[r.kind].color}88`, 1);
  }
  ctx.restore();
}

/** A small chart of one analyte over the whole record (IgG against the IVIG threshold). */
export function renderTrend(
  container: HTMLElement,
  days: readonly LabDay[],
  label: string,
  unit: string,
  threshold: { value: number; label: string } | undefined,
  dateOfDay: (day: number) => string,
): uPlot | undefined {
  container.replaceChildren();
  if (days.length === 0) return undefined;
  const xs = days.map((d) => d.day);
  const top = Math.max(...days.map((d) => d.value), (threshold?.value ?? 0) * 1.3, 1);
  const span: [number, number] = [Math.min(...xs, 0) - 5, Math.max(...xs) + 5];
  return new uPlot(
    {
      width: Math.max(280, container.clientWidth),
      height: 150,
      legend: { show: true, live: true },
      scales: { x: { time: false, auto: false, range: () => span }, y: { auto: false, range: () => [0, top] } },
      axes: [
        { values: (_u, ticks) => ticks.map((d) => (d > 0 ? `+${d}` : String(d))) },
        { label: unit, labelSize: 16, size: 52 },
      ],
      series: [
        {
          label: 'Day',
          value: (_u, v) => (v === null || v === undefined ? '–' : `${v > 0 ? '+' : ''}${v} (${dateOfDay(v)})`),
        },
        {
          label,
          stroke: '#00727a',
          width: 2,
          points: { show: true, size: 6, fill: '#00727a' },
          value: (_u, v) => (v === null || v === undefined ? '–' : `${v} ${unit}`),
        },
      ],
      hooks: {
        draw: [
          (u) => {
            if (!threshold) return;
            const { ctx, bbox } = u;
            const px = devicePixelRatio;
            const y = u.valToPos(threshold.value, 'y', true);
            ctx.save();
            ctx.strokeStyle = '#b3261e';
            ctx.setLineDash([6 * px, 4 * px]);
            ctx.lineWidth = 1.5 * px;
            ctx.beginPath();
            ctx.moveTo(bbox.left, y);
            ctx.lineTo(bbox.left + bbox.width, y);
            ctx.stroke();
            ctx.fillStyle = '#b3261e';
            ctx.font = `${11 * px}px system-ui, sans-serif`;
            ctx.fillText(threshold.label, bbox.left + 4 * px, y - 3 * px);
            ctx.restore();
          },
        ],
      },
    },
    [xs, days.map((d) => d.value)],
    container,
  );
}
