/**
 * How numbers and days are written for people (cards, the SMART app, recommendation texts).
 */
import { comparatorSymbol, type Measured } from './bounds.js';
import type { Thresholds } from './thresholds.js';
import type {
  Analyte,
  Assessment,
  BCellAplasiaResult,
  Censoring,
  Cd4Cd8Result,
  CtcaeTerm,
  HematotoxResult,
  ImmunoglobulinResult,
  IrradiationWindow,
  IssueCode,
  LabPoint,
  Lineage,
  NeutrophilPhenotype,
  Recommendation,
  RecommendationKind,
} from './types.js';
import { ageOn } from './dates.js';
import { displayUnit } from './units.js';

/** Lab precision without noise: 2 significant digits below 1, 3 up to 100, whole numbers above. */
export function fmt(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(Math.abs(value) < 1 ? 2 : 3)));
}

/** "day +9", "day -3"; empty for an unknown day. */
export function dayLabel(day: number | null): string {
  if (day === null) return '';
  return day >= 0 ? `day +${day}` : `day ${day}`;
}

/** "1 day", "3 days". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * A value as the laboratory reported it: "0.32", or "<0.1" for a bound. A bound is never rounded
 * across its number ("<0.124" would read "<0.12", which it does not say): it keeps the digits that
 * keep it true.
 */
export function fmtMeasured(m: Measured): string {
  const upper = m.comparator === '<' || m.comparator === '<=';
  const lower = m.comparator === '>' || m.comparator === '>=';
  const holds = (shown: string): boolean => !(upper && Number(shown) < m.value) && !(lower && Number(shown) > m.value);
  let shown = fmt(m.value);
  for (let digits = 3; !holds(shown) && digits <= 17; digits++) shown = String(Number(m.value.toPrecision(digits)));
  return `${comparatorSymbol(m.comparator)}${shown}`;
}

/** An immunoglobulin's change from baseline: "+12.5%", "-40%", "<-50%" (a fall of more than 50 %). */
export function changeText(r: Pick<ImmunoglobulinResult, 'changePct' | 'changeComparator'>): string {
  if (r.changePct === null) return '–';
  return `${comparatorSymbol(r.changeComparator)}${r.changePct > 0 ? '+' : ''}${r.changePct}%`;
}

export function valueWithUnit(p: Pick<LabPoint, 'value' | 'unit' | 'comparator'>): string {
  const unit = displayUnit(p.unit);
  return unit ? `${fmtMeasured(p)} ${unit}` : fmtMeasured(p);
}

/** What each recommendation is called on cards and in the app. */
export const RECOMMENDATION_TITLES: Record<RecommendationKind, string> = {
  'g-csf': 'G-CSF for severe neutropenia',
  'neutropenia-on-gcsf': 'Severe neutropenia on G-CSF',
  'g-csf-prophylaxis': 'Prophylactic G-CSF',
  'red-cell-transfusion': 'Red cell transfusion review',
  'platelet-transfusion': 'Platelet transfusion review',
  'ivig-review': 'IVIG review',
  'cytopenia-workup': 'Cytopenia work-up',
  'b-cell-recovery': 'B-cell recovery: review disease status',
};

const LINEAGE_NAME: Record<Lineage, [string, string]> = {
  neutrophil: ['neutropenia', 'ANC'],
  platelet: ['thrombocytopenia', 'PLT'],
  hemoglobin: ['anemia', 'Hb'],
};

/** "neutropenia (ANC < 0.5)", with the severe threshold in force. */
export function severeName(lineage: Lineage, threshold: number): string {
  const [name, label] = LINEAGE_NAME[lineage];
  return `${name} (${label} < ${fmt(threshold)})`;
}

/** The threshold a recommendation applied, in words ("< 0.5 ×10⁹/L", "early ICAHT grade ≥ 3"). */
export function thresholdText(r: Pick<Recommendation, 'threshold'>, counts: Thresholds['counts']): string {
  const { comparator, value, unit } = r.threshold;
  const cmp = comparator === '>=' ? '≥' : comparator === '<=' ? '≤' : comparator;
  if (unit === 'day') {
    return (
      `severe cytopenia (ANC < ${fmt(counts.neutrophils.severe)}, platelets < ${fmt(counts.platelets.severe)} or Hb < ${fmt(counts.hemoglobin.severe)} g/L) ` +
      `still present on day +${fmt(value)}`
    );
  }
  if (unit === 'days-after-infusion') return `loss of B-cell aplasia within ${fmt(value)} days of infusion`;
  if (unit === 'grade') return `ICAHT grade ${cmp} ${fmt(value)}`;
  if (unit === 'score') return `CAR-HEMATOTOX ${cmp} ${fmt(value)}`;
  return `${cmp} ${fmt(value)} ${displayUnit(unit)}`;
}

export const capitalize = (s: string): string => `${s[0]?.toUpperCase() ?? ''}${s.slice(1)}`;

/** How lab analytes and CTCAE terms are named on cards and in the app. */
export const ANALYTE_LABELS: Partial<Record<Analyte, string>> = {
  anc: 'ANC',
  platelets: 'Platelets',
  hemoglobin: 'Hemoglobin',
  wbc: 'WBC',
  lymphocytes: 'Lymphocytes',
  igg: 'IgG',
};
export const TERM_ANALYTE: Record<CtcaeTerm, Analyte> = {
  neutrophils: 'anc',
  platelets: 'platelets',
  hemoglobin: 'hemoglobin',
  wbc: 'wbc',
  lymphocytes: 'lymphocytes',
};
export const HEMATOTOX_LABELS = {
  platelets: 'Platelets',
  anc: 'ANC',
  hemoglobin: 'Hemoglobin',
  crp: 'CRP',
  ferritin: 'Ferritin',
} as const;

/** "4 (high)", "≥ 3 (high; crp missing)", "incomplete (crp, ferritin missing)". */
export function hematotoxScoreText(h: HematotoxResult): string {
  const missing = h.missing.map((m) => HEMATOTOX_LABELS[m]).join(', ');
  if (h.score !== null) return `${h.score} (${h.risk ?? ''} risk)`;
  if (h.risk === 'high') return `≥ ${h.partialScore} (high risk; ${missing} not measured)`;
  if (h.missing.length === Object.keys(HEMATOTOX_LABELS).length) return 'not known (no baseline value measured)';
  return `incomplete (${missing} not measured)`;
}

/** The neutrophil recovery phenotype in words (Rejeski et al., Blood 2021). */
export function phenotypeText(p: NeutrophilPhenotype | null, t: Thresholds): string {
  const n = fmt(t.counts.neutrophils.severe);
  switch (p) {
    case null:
      return 'not yet known (first dip ongoing)';
    case 'quick':
      return 'quick recovery';
    case 'intermittent':
      return `intermittent: recovered, then ANC ≤ ${n} again after day +${t.icaht.biphasicAfterDay}`;
    case 'aplastic':
      return `aplastic: ANC ≤ ${n} for ${t.icaht.durationDays.long} days or more`;
    case 'early-second-dip':
      return `second dip to ANC ≤ ${n} by day +${t.icaht.biphasicAfterDay}: fits none of the published phenotypes`;
    case 'no-severe-neutropenia':
      return `no severe neutropenia measured (no ANC ≤ ${n} since day 0)`;
    case 'unknown-gaps':
      return `not known: days without an ANC leave it open (they are not taken as a recovery)`;
    case 'not-measured':
      return 'not known: no ANC measured since day 0';
  }
}

/** Prolonged hematologic toxicity on the landmark day, or why it cannot be said yet. */
export function phtText(
  a: Pick<Assessment, 'prolongedHematologicToxicity' | 'dayPostInfusion'>,
  t: Thresholds,
): string {
  if (a.prolongedHematologicToxicity !== null) return a.prolongedHematologicToxicity ? 'yes' : 'no';
  return (a.dayPostInfusion ?? 0) < t.pht.day
    ? `not yet assessable (before day ${t.pht.day})`
    : `not known from the values around day ${t.pht.day}`;
}

/** B-cell aplasia, its onset, or the return of B cells (and what that means after tisagenlecleucel). */
export function bCellText(b: BCellAplasiaResult, t: Thresholds): string {
  if (b.present === null) return 'B cells not measured';
  if (b.lossDay !== null) {
    const months = Math.round(t.bCellAplasia.relapseWindowDays / 30.4);
    const unconfirmed = b.lossUnconfirmed ? ' (one sample, unconfirmed)' : '';
    const relapse = b.lossPredictsRelapse
      ? ` (loss of B-cell aplasia within ${months} months after tisagenlecleucel predicts relapse)`
      : '';
    return `B cells returned on ${dayLabel(b.lossDay)}${unconfirmed}${relapse}`;
  }
  return b.present ? `B-cell aplasia since ${dayLabel(b.onsetDay)}` : 'no B-cell aplasia';
}

/** CD4/CD8 ratio, its inversion, and low CD4 (antiviral prophylaxis). */
export function cd4cd8Text(cd: Cd4Cd8Result, t: Thresholds): string {
  const low = cd.cd4Low ? `; CD4 < ${fmt(t.cd4.low)} ×10⁹/L: antiviral prophylaxis stays indicated` : '';
  const unknown =
    cd.ratioUnknownDay === undefined
      ? ''
      : `not known on ${dayLabel(cd.ratioUnknownDay)} (CD4 and CD8 both reported only as a limit)`;
  if (cd.inverted === null) return `CD4/CD8 ${unknown || 'not measured'}${low}`;
  const ratio = cd.latestRatio === null ? '–' : `${comparatorSymbol(cd.latestRatioComparator)}${cd.latestRatio}`;
  const then = unknown ? `, ${unknown}` : '';
  // A lower bound below 1 (">0.8") leaves "< 1" open: inverted by its number only (§3), and said.
  const open = cd.latestRatioComparator === '>' || cd.latestRatioComparator === '>=';
  const inverted = cd.inverted
    ? ` (inverted since ${dayLabel(cd.onsetDay)}${open ? ' by its number; the true ratio may be 1 or more' : ''})`
    : '';
  return `CD4/CD8 ${ratio}${inverted}${then}${low}`;
}

/** What the transfusion cards say about irradiation: the window in force and what its start rests on. */
export function irradiationNote(w: IrradiationWindow | null, t: Thresholds): string {
  if (!w) return 'Irradiation of blood products per local policy.';
  if (!w.infusionRecorded) {
    const after = w.untilDay === null ? 'for life (hospital setting)' : `to day +${w.untilDay} after the infusion`;
    const opened = `No CAR-T infusion is recorded yet; leukapheresis on ${w.leukapheresisDate ?? ''} opens the window: from ${w.from} (${plural(t.irradiation.daysBeforeLeukapheresis, 'day')} before it, EHA/EBMT 2023) ${after}`;
    return w.required
      ? `Use irradiated cellular blood products. ${opened}${w.until === null ? '' : `, so at least to ${w.until}`}.`
      : `${opened}: no infusion is recorded by ${w.until ?? ''}, irradiation per local policy.`;
  }
  const fromDay = w.fromDay ?? 0; // set whenever an infusion is recorded
  const end = w.until === null ? 'for life (hospital setting)' : `to ${w.until} (${dayLabel(w.untilDay)})`;
  const window = `from ${w.from} (${dayLabel(fromDay)}) ${end}`;
  const basis =
    w.basis === 'leukapheresis'
      ? `The window starts ${plural(t.irradiation.daysBeforeLeukapheresis, 'day')} before leukapheresis on ${w.leukapheresisDate ?? ''} (EHA/EBMT 2023).`
      : `Leukapheresis date not recorded: the window starts ${plural(-fromDay, 'day')} before the infusion; EHA/EBMT 2023 start it ${plural(t.irradiation.daysBeforeLeukapheresis, 'day')} before leukapheresis.`;
  return w.required
    ? `Use irradiated cellular blood products ${window}. ${basis}`
    : `Outside the irradiation window (${window}): irradiation per local policy. ${basis}`;
}

/** Why ICAHT counting stopped, in words. */
export const CENSORING_TEXT: Record<Censoring['reason'], string> = {
  death: 'death',
  'car-t-reinfusion': 'a later CAR-T infusion',
  'allogeneic-hsct': 'allogeneic stem cell transplantation',
};

/** The neutrophil recovery phenotype in a word or two (tiles, tables); `phenotypeText` explains it. */
export function phenotypeShort(p: NeutrophilPhenotype | null): string {
  switch (p) {
    case null:
      return 'not yet known';
    case 'early-second-dip':
      return 'second dip by day +21';
    case 'no-severe-neutropenia':
      return 'no severe neutropenia';
    case 'unknown-gaps':
      return 'not known (gaps)';
    case 'not-measured':
      return 'no ANC yet';
    default:
      return p;
  }
}

/** What each kind of data note is called where a clinician reads it. */
export const ISSUE_TITLES: Record<IssueCode, string> = {
  'unit-unreadable': 'Results with a unit that could not be read',
  'value-missing': 'Results without a value',
  'date-missing': 'Records without a usable date',
  'status-ignored': 'Results not used because of their status',
  'data-gap': 'Days without a count',
  'patient-mismatch': 'Records of another patient, left out',
  infusion: 'CAR-T infusion dates',
  'sex-unknown': 'Sex not recorded',
  'birth-date-partial': 'Birth date without a day',
  'transfusion-product-unknown': 'Transfusions without a product',
  'stale-data': 'Counts not repeated recently',
  'ivig-recent': 'IgG measured after IVIG',
  comparator: 'Results reported as "<" or ">" a value',
  'code-unrecognised': 'Codes not recognised',
  'resource-invalid': 'Records that could not be read',
  'data-unavailable': 'Data the EHR could not give',
  censoring: 'Counting stopped early',
  'too-many-orders': 'Draft orders past the number one call checks',
  'value-implausible': 'Results with an impossible value',
  'version-ambiguous': 'Records given twice, differing, with no version to tell which is current',
  'date-future': 'Results dated after today',
  'medication-unknown': 'Medications given whose drug is not known',
  'issues-not-listed': 'Data notes not listed (too many of one kind)',
};

/** "45 y"; "45–46 y" when the birth date gives the year or month only and leaves two ages. */
export function ageText(years: number, birthDate: string | null | undefined, asOf: string): string {
  return ageOn(birthDate ?? undefined, asOf)?.partial ? `${years}–${years + 1} y` : `${years} y`;
}
