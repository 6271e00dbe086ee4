/**
 * What every card shares: stable uuids, number and day formatting, source and topic, override
 * reasons, the SMART link, and the kind extension used for feedback reports.
 */
import { v5 as uuidV5 } from 'uuid';
import type { Card, Coding } from '../cds-hooks/schemas.js';
import { CARD_KIND_EXTENSION } from '../shared/card-kind.js';
import { LOCAL_SYSTEM, type Terminology } from '../clinical/terminology.js';
import { isUnreadInfusion } from '../clinical/listed-issues.js';
import {
  ANALYTE_LABELS,
  capitalize,
  dayLabel,
  fmtMeasured,
  hematotoxScoreText,
  RECOMMENDATION_TITLES,
  TERM_ANALYTE,
  valueWithUnit,
} from '../clinical/format.js';
import type { SourceRef } from '../clinical/thresholds.js';
import type { Analyte, Assessment, AssessmentIssue, CtcaeTerm } from '../clinical/types.js';
import type { Orderables } from './orderables.js';
import { mdText } from './markdown.js';
import { recordText } from '../clinical/record-text.js';

export interface CardContext {
  serviceId: string;
  patientId: string;
  /** SMART app launch URL for the card link; no link when undefined. */
  smartLaunchUrl: string | undefined;
  /** The codes suggestions order by (standard codes when not given). */
  orderables?: Orderables | undefined;
}

/**
 * The namespace of this service's name-based card uuids (RFC 9562 §5.5). A random version 4 uuid
 * generated once for this project; it must never change: a new namespace gives every card a new
 * uuid, and feedback would no longer join the cards issued before.
 */
export const CARD_UUID_NAMESPACE = 'e31f0427-818b-45d5-8da2-2304b9c08f78';

/**
 * A UUID derived from the card's identity (service, patient, kind and what triggered it): the same
 * situation gives the same uuid on every call, so feedback and repeated cards join up. Name-based
 * (version 5, SHA-1) in CARD_UUID_NAMESPACE, the name being the parts joined with U+0000.
 */
export function stableUuid(...parts: (string | number | null | undefined)[]): string {
  return uuidV5(parts.map((p) => String(p ?? '')).join('\u0000'), CARD_UUID_NAMESPACE);
}

export { dayLabel, fmt, plural, valueWithUnit } from '../clinical/format.js';

/** An early grade as the counts allow it: "≥ 3" when missing days leave a higher one open, "so far" before day +30. */
export function earlyGrade(e: { grade: number | null; atLeast: boolean; complete: boolean }): string {
  // Past the early window (complete) there is no "yet": no count was measured in it.
  if (e.grade === null) return e.complete ? 'not gradable (no count in the early window)' : 'not gradable yet';
  // "≥ 0" says nothing: the counts leave every grade open.
  if (e.atLeast && e.grade === 0) return 'not known yet (days without a count)';
  return `${e.atLeast ? '≥ ' : ''}${e.grade}${e.complete ? '' : ' so far'}`;
}

export const hematotoxText = (a: Assessment): string => `CAR-HEMATOTOX ${hematotoxScoreText(a.hematotox)}`;

/**
 * A source as cards cite it ("Rejeski et al., …, Blood 2023;142:865 (https://doi.org/…)"): its label
 * as text, then its URL, which a client may link, when the URL holds nothing markdown reads (the
 * hospital's thresholds file may give any https URL; one with brackets, spaces or emphasis marks is
 * shown as text).
 */
export function citation(source: { label: string; url?: string }): string {
  if (!source.url) return mdText(source.label);
  const url = /^https:\/\/[A-Za-z0-9.:/?#@!$&'+,;=%-]+$/.test(source.url) ? source.url : mdText(source.url);
  return `${mdText(source.label)} (${url})`;
}

/** Shortens a summary to the spec's limit (< 140 characters) without cutting a word in half. */
export function summaryText(text: string): string {
  if (text.length < 140) return text;
  return `${text.slice(0, 136).replace(/\s+\S*$/, '')}…`;
}

export const OVERRIDE_REASONS: (Coding & { display: string })[] = [
  { system: LOCAL_SYSTEM, code: 'already-addressed', display: 'Already addressed' },
  { system: LOCAL_SYSTEM, code: 'not-indicated', display: 'Not clinically indicated for this patient' },
  { system: LOCAL_SYSTEM, code: 'data-outdated', display: 'Laboratory data outdated or wrong' },
  { system: LOCAL_SYSTEM, code: 'patient-declined', display: 'Patient or family declined' },
  { system: LOCAL_SYSTEM, code: 'local-protocol', display: 'Managed per local protocol' },
];

const TOPICS: Record<string, string> = {
  'hematotoxicity-summary': 'Hematotoxicity summary',
  ...RECOMMENDATION_TITLES,
  'crs-treatment-cytopenia-risk': 'CRS treatment and cytopenia risk',
  'transfusion-irradiation': 'Irradiated blood products after CAR-T',
  'g-csf-without-indication': 'G-CSF ordered above the neutropenia threshold',
};

/** The card frame: kind, uuid, summary, indicator, source with topic, override reasons, SMART link. */
export function baseCard(
  kind: string,
  uuid: string,
  summary: string,
  indicator: Card['indicator'],
  detail: string,
  source: SourceRef,
  ctx: CardContext,
): Card {
  return {
    uuid,
    summary: summaryText(summary),
    detail,
    indicator,
    source: {
      label: source.label,
      ...(source.url ? { url: source.url } : {}),
      topic: { system: LOCAL_SYSTEM, code: kind, display: TOPICS[kind] ?? kind },
    },
    overrideReasons: OVERRIDE_REASONS,
    ...(ctx.smartLaunchUrl
      ? {
          links: [
            {
              label: 'Open the CAR-T hematotoxicity timeline',
              url: ctx.smartLaunchUrl,
              type: 'smart' as const,
              appContext: JSON.stringify({ focus: kind }),
            },
          ],
        }
      : {}),
    extension: { [CARD_KIND_EXTENSION]: kind },
  };
}

/** The latest counts with their dates and CTCAE grades (worst since day 0 beside them). */
export function countsTable(
  a: Assessment,
  terms: readonly CtcaeTerm[] = ['neutrophils', 'platelets', 'hemoglobin', 'wbc', 'lymphocytes'],
): string {
  const rows = terms.flatMap((term) => {
    const c = a.ctcae[term];
    if (!c.latestValue) return [];
    const worst = c.worstValue
      ? `${c.worst ?? '–'} (${fmtMeasured(c.worstValue)} on ${dayLabel(c.worstValue.day)})`
      : String(c.worst ?? '–');
    return [
      [
        ANALYTE_LABELS[TERM_ANALYTE[term]] ?? term,
        valueWithUnit(c.latestValue),
        `${c.latestValue.date} (${dayLabel(c.latestValue.day)})`,
        String(c.latest ?? '–'),
        worst,
      ],
    ];
  });
  if (rows.length > 0) return table(['', 'Latest', 'Date', 'CTCAE grade', 'Worst since day 0'], rows);
  return countsUnread(a)
    ? '_No blood count since the infusion could be read: see the data notes._'
    : '_No blood counts since the infusion._';
}

/** Issues that mean an Observation was there but not used (left out, another patient's, no value…). */
const OBSERVATION_NOT_USED: ReadonlySet<string> = new Set([
  'resource-invalid',
  'patient-mismatch',
  'unit-unreadable',
  'value-missing',
  'value-implausible',
  'date-missing',
]);

/**
 * Whether Observations of these analytes were there but could not be used: "no counts" would say less than
 * the record holds. One whose analyte is not known (it could not be read far enough) may be any of them; one
 * of another analyte (an IgG in an unreadable unit) is not a blood count.
 */
export function unreadOf(a: Assessment, analytes: readonly Analyte[]): boolean {
  return a.issues.some(
    (i) =>
      OBSERVATION_NOT_USED.has(i.code) &&
      i.resource?.startsWith('Observation') === true &&
      (i.analyte === undefined || analytes.includes(i.analyte)),
  );
}

const BLOOD_COUNTS: readonly Analyte[] = ['anc', 'platelets', 'hemoglobin', 'wbc', 'lymphocytes'];

/** Whether blood counts were there but could not be used (unreadOf). */
export function countsUnread(a: Assessment): boolean {
  return unreadOf(a, BLOOD_COUNTS);
}

/** A markdown table. */
export function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/**
 * What the assessment could not read, said on every card: resources left out because they did not
 * have the shape the engine reads, administrations whose medication could not be read, and data a
 * failed search could not give. Undefined when none.
 */
export function unreadDataNote(a: Assessment): string | undefined {
  const skipped = a.issues.filter((i) => i.code === 'resource-invalid');
  const elsewhere = a.issues.filter((i) => i.code === 'patient-mismatch');
  const unavailable = a.issues.filter((i) => i.code === 'data-unavailable');
  const unknownDrug = a.issues.filter((i) => i.code === 'medication-unknown');
  if (skipped.length + elsewhere.length + unavailable.length + unknownDrug.length === 0) return undefined;
  const parts: string[] = [];
  if (skipped.length > 0) parts.push(leftOut(skipped, 'could not be read', /; resource left out$/));
  if (elsewhere.length > 0) parts.push(leftOut(elsewhere, 'name another patient or none', /; not used$/));
  if (unknownDrug.length > 0)
    parts.push(leftOut(unknownDrug, 'name a drug that could not be identified', /: what was given is not known$/));
  for (const i of unavailable.slice(0, 3)) parts.push(`${mdText(recordText(capitalize(i.message), 300))}.`);
  return `**Data not used:** ${parts.join(' ')} What this card says rests on the rest of the record; check the chart for what is missing.`;
}

/** "2 records could not be read and were left out: Observation/a (why); …" with up to three examples. */
function leftOut(issues: readonly AssessmentIssue[], what: string, tail?: RegExp): string {
  const n = issues.length;
  const examples = issues
    .slice(0, 3)
    .map((i) => `${mdText(i.resource ?? 'resource')} (${mdText(tail ? i.message.replace(tail, '') : i.message)})`);
  const verb = n === 1 ? what.replace(/^name /, 'names ') : what;
  return `${n === 1 ? '1 record' : `${n} records`} ${verb} and ${n === 1 ? 'was' : 'were'} left out: ${examples.join('; ')}${n > 3 ? `; and ${n - 3} more` : ''}.`;
}

/**
 * Records left out whose codes say they are a CAR-T infusion (or its product): unreadable
 * (`resource-invalid`, known by the codings found in them), or read but without a date to the day
 * (`date-missing` of a CAR-T event: dated to the month only, or to a day that does not exist).
 */
export function unreadInfusions(a: Assessment, terminology: Terminology): AssessmentIssue[] {
  return a.issues.filter((i) => isUnreadInfusion(i, terminology));
}

/** The unread infusion records of `unread` as a list a card shows (the first three). */
export function unreadInfusionList(unread: readonly AssessmentIssue[]): string {
  const listed = unread
    .slice(0, 3)
    .map(
      (i) => `- ${mdText(i.resource ?? 'record')}: ${mdText(i.message.replace(/; (resource left out|not used)$/, ''))}`,
    );
  if (unread.length > 3) listed.push(`- and ${unread.length - 3} more`);
  return listed.join('\n');
}

export function withUnreadDataNote(cards: Card[], a: Assessment): Card[] {
  const note = unreadDataNote(a);
  if (!note) return cards;
  return cards.map((c) => ({ ...c, detail: c.detail ? `${c.detail}\n\n${note}` : note }));
}
