/**
 * One analyte's lane of the timeline: its values on an axis that shows the clinically relevant
 * range (count-axis.ts), the CTCAE grade bands, the threshold lines, day 0 and the lane's own
 * events; threshold and grade labels in the right gutter, never over the data or each other; a
 * readout that shows the latest value until the user hovers a day; and a text alternative.
 */
import uPlot from 'uplot';
import { boundaries, defaultLln, type Boundaries } from '../clinical/ctcae.js';
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Assessment, CtcaeTerm, LabDay, LabPoint } from '../clinical/types.js';
import { displayUnit } from '../clinical/units.js';
import { PADDING, Y_AXIS_SIZE, type EventRun, type LaneSpec } from './chart-common.js';
import { chartSummary, dataTable, hoverText, latestText } from './chart-text.js';
import { countAxis, type CountAxis } from './count-axis.js';
import { drawBands, drawClipped, drawGutterLabels, drawLaneMarks, type Band } from './lane-drawing.js';
import { h } from './dom.js';

/** Height of a count lane on screen (px). */
export const LANE_HEIGHT = 170;

/** What one lane is drawn from; `view` is the day range currently shown (it changes with setRange). */
export interface LaneInput {
  a: Assessment;
  t: HospitalThresholds;
  lane: LaneSpec;
  runs: EventRun[];
  width: number;
  view: () => [number, number];
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
function bands(b: Boundaries | undefined, lowerLimit: number | undefined): Band[] {
  if (!b || lowerLimit === undefined) return [];
  const out: Band[] = [];
  if (b.grade4 !== undefined) out.push({ from: 0, to: b.grade4, grade: 4 });
  out.push(
    { from: b.grade4 ?? 0, to: b.grade3, grade: 3 },
    { from: b.grade3, to: b.grade2, grade: 2 },
    { from: b.grade2, to: lowerLimit, grade: 1 },
  );
  return out.filter((x) => x.to > x.from);
}

/** The lane's figure: caption (with what the axis does), summary, plot box, readout and value table. */
function laneFigure(
  lane: LaneSpec,
  days: readonly LabDay[],
  unit: string,
  axis: CountAxis,
  latest: LabPoint | undefined,
): { figure: HTMLElement; plotBox: HTMLElement; readout: HTMLElement } {
  const severe = lane.lines.find((l) => l.strong)?.value;
  const readout = h(
    'p',
    { class: 'readout', 'data-testid': `readout-${lane.analyte}` },
    latestText(days, unit, latest),
  );
  const plotBox = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const figure = h(
    'figure',
    { class: 'lane', 'data-analyte': lane.analyte },
    h(
      'figcaption',
      {},
      h('span', { class: 'lane-title' }, `${lane.label} (${unit})`),
      axis.note ? h('span', { class: 'muted' }, ` · ${axis.note}`) : null,
      days.length === 0 ? h('span', { class: 'muted' }, ' – no values in this record') : null,
    ),
    h(
      'p',
      { class: 'chart-summary', 'data-testid': `summary-${lane.analyte}` },
      chartSummary(lane.label, days, unit, severe, latest),
    ),
    plotBox,
    readout,
    dataTable(lane.label, days, unit),
  );
  return { figure, plotBox, readout };
}

/** The two axes: days after infusion, and the count axis with every split labelled. */
function laneAxes(unit: string, axis: CountAxis): uPlot.Axis[] {
  return [
    {
      label: 'Day after CAR-T infusion',
      labelSize: 16,
      size: 34,
      values: (_u, ticks) => ticks.map((d) => (d > 0 ? `+${d}` : String(d))),
    },
    {
      label: unit,
      labelSize: 16,
      size: Y_AXIS_SIZE,
      splits: () => axis.splits,
      // Every split is labelled (uPlot's log filter would blank some).
      filter: (_u, splits) => splits,
      values: (_u, ticks) => ticks.map((v) => (v === null || v === undefined ? '' : String(v))),
    },
  ];
}

export function lanePlot(container: HTMLElement, input: LaneInput): uPlot {
  const { a, t, lane, view } = input;
  const days = a.series?.[lane.analyte] ?? [];
  const unit = displayUnit(a.latest[lane.analyte]?.unit ?? (lane.analyte === 'hemoglobin' ? 'g/L' : '10*9/L'));
  const lower = lln(a, t, lane.term, days);
  const axis = countAxis(
    lane.analyte,
    days,
    lane.lines.map((l) => l.value),
    lower,
  );
  const laneBands = bands(lane.term ? boundaries(lane.term, t.values) : undefined, lower);
  const latest = a.latest[lane.analyte];
  const { figure, plotBox, readout } = laneFigure(lane, days, unit, axis, latest);
  container.append(figure);
  const placed = days.map((d) => axis.place(d.value));
  const opts: uPlot.Options = {
    width: input.width,
    height: LANE_HEIGHT,
    cursor: { sync: { key: 'cart-timeline' }, drag: { x: false, y: false } },
    legend: { show: false },
    padding: PADDING,
    scales: {
      x: { time: false, auto: false, range: () => view() },
      y:
        axis.distr === 'log'
          ? { distr: 3, log: 10, auto: false, range: () => [axis.min, axis.max] }
          : { auto: false, range: () => [axis.min, axis.max] },
    },
    axes: laneAxes(unit, axis),
    series: [
      {},
      { label: lane.label, stroke: lane.color, width: 2, points: { show: true, size: 6, fill: lane.color } },
    ],
    hooks: {
      drawClear: [(u) => drawBands(u, laneBands, axis)],
      draw: [
        (u) => {
          drawLaneMarks(u, input);
          drawClipped(u, days, placed, lane.color);
          // Where the labels went and where the data ends (CSS px), for the browser tests.
          figure.dataset['labels'] = JSON.stringify(drawGutterLabels(u, lane, laneBands, axis));
          figure.dataset['plotRight'] = String((u.bbox.left + u.bbox.width) / devicePixelRatio);
        },
      ],
      setCursor: [
        (u) => {
          const i = u.cursor.idx;
          // The latest value until a day is hovered (uPlot's cursor leaves with left < 0).
          const day = i === null || i === undefined || (u.cursor.left ?? -1) < 0 ? undefined : days[i];
          readout.textContent = day ? hoverText(day, unit) : latestText(days, unit, latest);
          readout.classList.toggle('hovering', day !== undefined);
        },
      ],
    },
  };
  return new uPlot(opts, [days.map((d) => d.day), placed.map((p) => p.drawn)], plotBox);
}
