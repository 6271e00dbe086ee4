/**
 * The SMART app's count axes show the clinically relevant range: ANC on a log axis (the ICAHT 0.1
 * and severe 0.5 lines far apart whatever the pre-infusion count), platelets and hemoglobin linear
 * up to the values since day 0 with higher pre-infusion values clipped and marked; gutter labels
 * never collide.
 */
import { describe, expect, test } from '@jest/globals';
import type { LabDay } from '../../src/clinical/types.js';
import { countAxis, placeLabels } from '../../src/smart-app/count-axis.js';

const days = (values: [number, number][]): LabDay[] =>
  values.map(([day, value]) => ({ day, value, date: '2026-01-01', ms: 0, reference: 'Observation/x' }));

/** Where a value lands on a 100 px axis. */
const position = (axis: ReturnType<typeof countAxis>, v: number): number =>
  axis.distr === 'log'
    ? (100 * (Math.log10(v) - Math.log10(axis.min))) / (Math.log10(axis.max) - Math.log10(axis.min))
    : (100 * (v - axis.min)) / (axis.max - axis.min);

describe('countAxis', () => {
  test('ANC with a pre-infusion count of 12: log axis, 0.1 and 0.5 at least a fifth of the height apart', () => {
    const anc = countAxis(
      'anc',
      days([
        [-6, 12],
        [3, 0.08],
        [10, 0.3],
        [20, 2.1],
      ]),
      [0.5, 0.1],
      1.8,
    );
    expect(anc).toMatchObject({ distr: 'log', min: 0.05, max: 20, note: 'log scale' });
    expect(position(anc, 0.5) - position(anc, 0.1)).toBeGreaterThan(20);
    expect(anc.splits).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20]);
  });

  test('ANC below the floor is drawn on it and marked', () => {
    const anc = countAxis('anc', days([[3, 0.01]]), [0.5, 0.1], 1.8);
    expect(anc.place(0.01)).toEqual({ drawn: 0.05, clipped: 'below' });
    expect(anc.note).toContain('▼');
  });

  test('platelets: a pre-infusion 480 is clipped to the top and marked; the range fits the values since day 0', () => {
    const plt = countAxis(
      'platelets',
      days([
        [-6, 480],
        [5, 12],
        [20, 95],
      ]),
      [20],
      150,
    );
    expect(plt).toMatchObject({ distr: 'linear', min: 0, max: 200 });
    expect(plt.place(480)).toEqual({ drawn: 200, clipped: 'above' });
    expect(plt.place(95)).toEqual({ drawn: 95, clipped: null });
    expect(plt.note).toBe('values before day 0 above 200 drawn on the top line (▲)');
  });

  test('hemoglobin without outliers: no note, ticks from 0', () => {
    const hb = countAxis(
      'hemoglobin',
      days([
        [-6, 110],
        [9, 62],
      ]),
      [60],
      120,
    );
    expect(hb.note).toBeNull();
    expect(hb.splits[0]).toBe(0);
    expect(hb.max).toBeGreaterThanOrEqual(138);
  });
});

describe('placeLabels', () => {
  test('the first by priority keeps its place; a colliding label moves within its range or is left out', () => {
    const placed = placeLabels(
      [
        { text: 'G4', y: 52, priority: 1, within: [40, 90] },
        { text: 'severe', y: 50, priority: 0 },
        { text: 'G3', y: 45, priority: 2, within: [44, 46] },
      ],
      13,
      0,
      100,
    );
    expect(placed).toEqual([
      { text: 'severe', y: 50, priority: 0 },
      { text: 'G4', y: 63, priority: 1, within: [40, 90] },
    ]);
  });
});
