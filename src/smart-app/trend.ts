/**
 * A small chart of one analyte over the whole record (IgG against the IVIG threshold), with the
 * same text alternative and readout as the timeline's lanes.
 */
import uPlot from 'uplot';
import type { LabDay } from '../clinical/types.js';
import { chartSummary, dataTable, hoverText, latestText } from './chart-text.js';
import { h } from './dom.js';

function drawThreshold(u: uPlot, threshold: { value: number; label: string }): void {
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
  // In the right gutter, outside the data.
  ctx.fillStyle = '#9b1c14';
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.fillText(threshold.label, bbox.left + bbox.width + 6 * px, y);
  ctx.restore();
}

export function renderTrend(
  container: HTMLElement,
  days: readonly LabDay[],
  label: string,
  unit: string,
  threshold: { value: number; label: string },
  /** The engine's latest value (what the IVIG review reads); the chart's points are each day's lowest. */
  latest?: Parameters<typeof latestText>[2],
): uPlot | undefined {
  container.replaceChildren();
  if (days.length === 0) return undefined;
  const xs = days.map((d) => d.day);
  const top = Math.max(...days.map((d) => d.value), threshold.value * 1.3, 1);
  const span: [number, number] = [Math.min(...xs, 0) - 5, Math.max(...xs) + 5];
  const readout = h(
    'p',
    { class: 'readout', 'data-testid': `readout-${label.toLowerCase()}` },
    latestText(days, unit, latest),
  );
  const plotBox = h('div', { class: 'plot', 'aria-hidden': 'true' });
  container.append(
    h('p', { class: 'chart-summary' }, chartSummary(label, days, unit, threshold.value, latest)),
    plotBox,
    readout,
    dataTable(label, days, unit) ?? '',
  );
  return new uPlot(
    {
      width: Math.max(280, container.clientWidth),
      height: 150,
      legend: { show: false },
      padding: [10, 96, 0, null],
      scales: { x: { time: false, auto: false, range: () => span }, y: { auto: false, range: () => [0, top] } },
      axes: [
        { values: (_u, ticks) => ticks.map((d) => (d > 0 ? `+${d}` : String(d))) },
        { label: unit, labelSize: 16, size: 52 },
      ],
      series: [{}, { label, stroke: '#00727a', width: 2, points: { show: true, size: 6, fill: '#00727a' } }],
      hooks: {
        draw: [(u) => drawThreshold(u, threshold)],
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            const day = i === null || i === undefined || (u.cursor.left ?? -1) < 0 ? undefined : days[i];
            readout.textContent = day ? hoverText(day, unit) : latestText(days, unit, latest);
          },
        ],
      },
    },
    [xs, days.map((d) => d.value)],
    plotBox,
  );
}
