/**
 * Printing (clinic letters): every page carries the patient's name, birth date and identifier and
 * the date printed, in the page margin (CSS @page margin boxes in styles.css read these custom
 * properties), so a loose page is never anonymous. The charts are redrawn at the page's width.
 */
import type { PatientIdentity } from './identity.js';

/** A CSS string literal (custom properties hold it; @page margin boxes show it). */
const cssString = (text: string): string => `"${text.replace(/["\\\n]/g, (c) => (c === '\n' ? ' ' : `\\${c}`))}"`;

/** "2026-11-22 09:41" in the browser's time zone. */
function now(): string {
  const d = new Date();
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function setPrintHeader(who: PatientIdentity): void {
  const root = document.documentElement.style;
  const parts = [
    who.name,
    who.birthDate ? `born ${who.birthDate}` : 'birth date not recorded',
    who.identifier ?? 'no identifier',
  ];
  root.setProperty('--print-patient', cssString(parts.join(' · ')));
  root.setProperty('--print-date', cssString(`Printed ${now()}`));
}

/** Width of the printed charts: A4 (210 mm) minus the 12 mm margins, at 96 px per inch. */
export const PRINT_CHART_WIDTH = Math.floor(((210 - 2 * 12) / 25.4) * 96);
