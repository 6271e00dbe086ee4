/**
 * What the timeline's charts share: the event kinds and how they are drawn, runs of events, the
 * lanes and their threshold lines, and the plot padding that keeps every lane's x axis aligned.
 */
import type uPlot from 'uplot';
import type { HospitalThresholds } from '../clinical/thresholds.js';
import type { Analyte, Assessment, ClinicalEvent, CtcaeTerm, EventKind } from '../clinical/types.js';

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
  leukapheresis: { code: 'LA', label: 'Leukapheresis', color: '#4b5563' },
  'marrow-evaluation': { code: 'BM', label: 'Bone marrow sampling', color: '#374151' },
  lymphodepletion: { code: 'LD', label: 'Lymphodepletion', color: '#6b4f2a' },
  'g-csf': { code: 'G', label: 'G-CSF', color: '#1b7f3b' },
  'red-cell-transfusion': { code: 'RBC', label: 'Red cell transfusion', color: '#b3261e' },
  'platelet-transfusion': { code: 'PLT', label: 'Platelet transfusion', color: '#c26a00' },
  'transfusion-unspecified': { code: 'TX', label: 'Transfusion (product not coded)', color: '#8a5a00' },
  tocilizumab: { code: 'Toci', label: 'Tocilizumab', color: '#5b3fa8' },
  corticosteroid: { code: 'Ster', label: 'Corticosteroid', color: '#2b5fa8' },
  ivig: { code: 'IVIG', label: 'IVIG', color: '#00727a' },
  crs: { code: 'CRS', label: 'CRS', color: '#7a0050' },
  'allogeneic-hsct': { code: 'HSCT', label: 'Allogeneic HSCT', color: '#111827' },
};

/**
 * Same plot-area edges on every lane, whatever the tick labels (so events line up with values); the
 * right gutter holds the threshold and grade labels, outside the data.
 */
export const PADDING: uPlot.Padding = [10, 100, 0, null];
/** Width of the left axis (tick labels and unit). */
export const Y_AXIS_SIZE = 60;

export function laneSpecs(a: Assessment, t: HospitalThresholds, extra: readonly Analyte[]): LaneSpec[] {
  const v = t.values;
  const lanes: LaneSpec[] = [
    {
      analyte: 'anc',
      label: 'ANC',
      term: 'neutrophils',
      color: '#1d4ed8',
      lines: [
        { value: v.counts.neutrophils.severe, label: `severe < ${v.counts.neutrophils.severe}`, strong: true },
        { value: v.counts.neutrophils.profound, label: `ICAHT ≤ ${v.counts.neutrophils.profound}` },
      ],
    },
    {
      analyte: 'platelets',
      label: 'Platelets',
      term: 'platelets',
      color: '#b45309',
      lines: [{ value: v.counts.platelets.severe, label: `severe < ${v.counts.platelets.severe}`, strong: true }],
    },
    {
      analyte: 'hemoglobin',
      label: 'Hemoglobin',
      term: 'hemoglobin',
      color: '#b91c1c',
      lines: [{ value: v.counts.hemoglobin.severe, label: `severe < ${v.counts.hemoglobin.severe}`, strong: true }],
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

/** A full-height line at `day` (day 0, transfusions). */
export function verticalLine(u: uPlot, day: number, color: string, width: number): void {
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
