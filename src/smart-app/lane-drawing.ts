/**
 * Drawing one lane of the timeline on its canvas: the CTCAE grade bands, the threshold lines, day 0
 * and the lane's own events, values moved to an edge of the axis, and the labels of the right gutter.
 */
import type uPlot from 'uplot';
import type { LabDay } from '../clinical/types.js';
import { fmtMeasured } from '../clinical/format.js';
import { EVENT_STYLE, verticalLine, type EventRun, type LaneSpec } from './chart-common.js';
import { placeLabels, type CountAxis, type Label } from './count-axis.js';

const BAND_COLORS = [
  'rgba(255, 220, 120, 0.18)',
  'rgba(255, 170, 90, 0.20)',
  'rgba(240, 110, 80, 0.20)',
  'rgba(200, 40, 40, 0.20)',
];
const LABEL_HEIGHT = 13;
/** Offset of the grade labels' column from the threshold labels' column (px). */
const GRADE_COLUMN = 74;

/** Which events each lane marks with a vertical line (all lanes mark day 0). */
const LANE_EVENTS: Partial<Record<string, string[]>> = {
  platelets: ['platelet-transfusion', 'transfusion-unspecified'],
  hemoglobin: ['red-cell-transfusion', 'transfusion-unspecified'],
};

/** A CTCAE grade band of values [from, to). */
export interface Band {
  from: number;
  to: number;
  grade: number;
}

/** The CTCAE grade bands behind the values (labels are drawn in the gutter). */
export function drawBands(u: uPlot, laneBands: Band[], axis: CountAxis): void {
  const { ctx, bbox } = u;
  ctx.save();
  for (const band of laneBands) {
    const y1 = u.valToPos(Math.min(band.to, axis.max), 'y', true);
    const y0 = u.valToPos(Math.max(band.from, axis.min), 'y', true);
    ctx.fillStyle = BAND_COLORS[band.grade - 1] ?? 'transparent';
    ctx.fillRect(bbox.left, y1, bbox.width, y0 - y1);
  }
  ctx.restore();
}

/** A label drawn in the gutter, in CSS pixels: y from the top of the plot area, x from the canvas' left. */
interface PlacedLabel {
  text: string;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * The right gutter, outside the data: threshold labels in a first column at their lines, grade
 * labels in a second column inside their bands; within a column a label that would collide with
 * another is moved within its band or left out. Returns what was drawn, for the browser tests.
 */
export function drawGutterLabels(u: uPlot, lane: LaneSpec, laneBands: Band[], axis: CountAxis): PlacedLabel[] {
  const { ctx, bbox } = u;
  const px = devicePixelRatio;
  const height = bbox.height / px;
  // A threshold label is always shown: at its line, or moved by up to one label height (edge, neighbour).
  const lines: Label[] = lane.lines.map((l, i) => {
    const y = u.valToPos(l.value, 'y');
    return { text: l.label, y, priority: i, within: [y - LABEL_HEIGHT, y + LABEL_HEIGHT] };
  });
  const grades: Label[] = laneBands.map((b) => {
    const y0 = u.valToPos(Math.max(b.from, axis.min), 'y');
    const y1 = u.valToPos(Math.min(b.to, axis.max), 'y');
    const inset = LABEL_HEIGHT / 2;
    // The most severe grade's label first.
    return { text: `G${b.grade}`, y: (y0 + y1) / 2, priority: 5 - b.grade, within: [y1 + inset, y0 - inset] };
  });
  const first = (bbox.left + bbox.width) / px + 6;
  const columns: [Label[], number][] = [
    [placeLabels(lines, LABEL_HEIGHT, 0, height), first],
    [placeLabels(grades, LABEL_HEIGHT, 0, height), first + GRADE_COLUMN],
  ];
  ctx.save();
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  // uPlot leaves the alignment of its axis labels on the context: set ours.
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  const drawn: PlacedLabel[] = [];
  for (const [labels, left] of columns) {
    for (const label of labels) {
      const line = lane.lines.find((l) => l.label === label.text);
      ctx.fillStyle = line?.strong ? '#9b1c14' : '#374151';
      ctx.fillText(label.text, left * px, bbox.top + label.y * px);
      // The box the text really occupies, from the context's alignment and the measured glyphs.
      const m = ctx.measureText(label.text);
      drawn.push({
        text: label.text,
        top: label.y - LABEL_HEIGHT / 2,
        bottom: label.y + LABEL_HEIGHT / 2,
        left: left - m.actualBoundingBoxLeft / px,
        right: left + m.actualBoundingBoxRight / px,
      });
    }
  }
  ctx.restore();
  return drawn;
}

/** Values moved to an edge of the axis: a triangle pointing where the value really is, and the value. */
export function drawClipped(
  u: uPlot,
  days: readonly LabDay[],
  placed: readonly { clipped: 'above' | 'below' | null }[],
  color: string,
): void {
  const { ctx } = u;
  const px = devicePixelRatio;
  ctx.save();
  ctx.fillStyle = color;
  ctx.font = `${10 * px}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  days.forEach((d, i) => {
    const clipped = placed[i]?.clipped;
    if (!clipped) return;
    const x = u.valToPos(d.day, 'x', true);
    const y = u.valToPos(u.data[1]?.[i] ?? 0, 'y', true);
    const dir = clipped === 'above' ? -1 : 1;
    ctx.beginPath();
    ctx.moveTo(x - 5 * px, y);
    ctx.lineTo(x + 5 * px, y);
    ctx.lineTo(x, y + dir * 7 * px);
    ctx.closePath();
    ctx.fill();
    ctx.fillText(fmtMeasured(d), x, clipped === 'above' ? y + 16 * px : y - 10 * px);
  });
  ctx.restore();
}

/** Over the values: the threshold lines, day 0 and the lane's own events in view. */
export function drawLaneMarks(
  u: uPlot,
  { lane, runs, view }: { lane: LaneSpec; runs: readonly EventRun[]; view: () => [number, number] },
): void {
  const { ctx, bbox } = u;
  const px = devicePixelRatio;
  const [min, max] = view();
  ctx.save();
  for (const line of lane.lines) {
    const y = u.valToPos(line.value, 'y', true);
    ctx.strokeStyle = line.strong ? '#b3261e' : '#6b7280';
    ctx.setLineDash(line.strong ? [6 * px, 4 * px] : [2 * px, 3 * px]);
    ctx.lineWidth = (line.strong ? 1.5 : 1) * px;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  if (0 >= min && 0 <= max) verticalLine(u, 0, '#111', 2);
  const own = runs.filter((r) => r.toDay >= min && r.fromDay <= max && LANE_EVENTS[lane.analyte]?.includes(r.kind));
  for (const r of own) {
    for (let d = r.fromDay; d <= r.toDay; d++) verticalLine(u, d, `${EVENT_STYLE[r.kind].color}88`, 1);
  }
  ctx.restore();
  // Where the threshold lines are, in CSS pixels, for the browser tests.
  u.root.parentElement?.parentElement?.setAttribute(
    'data-lines',
    JSON.stringify(lane.lines.map((l) => ({ value: l.value, y: Math.round(u.valToPos(l.value, 'y') * 10) / 10 }))),
  );
}
