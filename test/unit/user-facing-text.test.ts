/**
 * What clinicians read speaks to clinicians: no card, reason, note, data note or app text refers to
 * our repository ("docs/", ".ts" files), to the project's internal specification ("clinical-spec",
 * "seed 00N"), or shows a raw enum value or an unformatted number (issue 9).
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MedicationRequest, ServiceRequest } from 'fhir/r4.js';
import { assess } from '../../src/clinical/assess.js';
import { adviseOn, orderCards } from '../../src/cards/orders.js';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { unreadDataNote } from '../../src/cards/common.js';
import { anc, assessOn, infusion } from '../helpers/fhir.js';
import { demoPatients } from '../../src/demo/demo-patients.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { dexamethasoneOrder, filgrastimOrder, tocilizumabOrder, transfusionOrder } from '../helpers/orders.js';

const INTERNAL = [/seed 0\d/i, /clinical-spec/i, /docs\//, /\b[\w-]+\.ts\b/, /\bsrc\//];
/** Raw enum values a clinician should never read. */
const RAW = [
  /no-severe-neutropenia/,
  /early-second-dip/,
  /\bunknown-gaps\b/,
  /\bnot-measured\b/,
  /car-t-reinfusion/,
  /allogeneic-hsct\b/,
  /\b(data-gap|stale-data|unit-unreadable|resource-invalid|data-unavailable)\b/,
];
/** A number with more than 3 decimals, or an integer part with 5+ digits and decimals ("32903.4"). */
const UNFORMATTED = [/\d\.\d{4,}/, /\b\d{5,}\.\d+/];

/** Every string a person reads in a card (URLs and machine codes left out). */
function readable(value: unknown, key = ''): string[] {
  if (typeof value === 'string') {
    return ['url', 'uuid', 'reference', 'system', 'code', 'resourceType', 'id', 'status', 'intent'].includes(key)
      ? []
      : [value.replace(/\(https:\/\/[^)]+\)/g, '')];
  }
  if (Array.isArray(value)) return value.flatMap((v) => readable(v, key));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => (k === 'extension' ? [] : readable(v, k)));
  return [];
}

const clinical = loadClinicalContext({ timeZone: 'UTC' });
const today = '2026-11-22';

function allCardText(): { patient: string; text: string }[] {
  const out: { patient: string; text: string }[] = [];
  for (const p of demoPatients(today)) {
    const id = p.scenario.id;
    const a = assess(p.resources, {
      asOf: today,
      terminology: clinical.terminology,
      thresholds: clinical.thresholds,
      includeSeries: true,
      patientId: id,
    });
    const ctx = { serviceId: 'svc', patientId: id, smartLaunchUrl: undefined, orderables: clinical.orderables };
    const orders: (MedicationRequest | ServiceRequest)[] = [
      tocilizumabOrder(id),
      dexamethasoneOrder(id),
      filgrastimOrder(id),
      transfusionOrder(`tx-${id}`, id, 'red-cells'),
    ];
    const advisable = orders.flatMap((o) => {
      const adv = adviseOn(
        o,
        o.resourceType === 'MedicationRequest' ? o.medicationCodeableConcept : undefined,
        clinical.terminology,
      );
      return adv ? [adv] : [];
    });
    const cards = [
      ...patientViewCards(a, clinical.thresholds, ctx),
      ...orderCards(a, advisable, clinical.terminology, clinical.thresholds, ctx),
    ];
    for (const text of [...readable(cards), ...a.issues.map((i) => i.message)]) out.push({ patient: id, text });
  }
  return out;
}

describe('user-facing text', () => {
  const texts = allCardText();

  test('the demo cohort gives cards to read (the check below is not vacuous)', () => {
    expect(texts.length).toBeGreaterThan(200);
  });

  test.each([...INTERNAL, ...RAW, ...UNFORMATTED].map((re) => [String(re), re] as const))(
    'no card, reason or data note matches %s',
    (_name, re) => {
      const hits = texts.filter((t) => re.test(t.text)).map((t) => `${t.patient}: ${t.text.slice(0, 200)}`);
      expect(hits).toEqual([]);
    },
  );

  test('the SMART app as built contains no internal reference', () => {
    const dir = join(process.cwd(), 'dist', 'smart-app');
    // `npm test` builds the app first (build:app); a bare jest run without a build has nothing to check.
    if (!existsSync(dir)) return;
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|html)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const re of [/seed 0\d/i, /clinical-spec/i, /docs\/clinical-logic/])
        expect(`${f}: ${re.test(text)}`).toBe(`${f}: false`);
    }
  });
});

describe('the "Data not used" note', () => {
  test('names up to three records and counts the rest in words', () => {
    const inputIssues = [1, 2, 3, 4, 5].map((n) => ({
      severity: 'warning' as const,
      code: 'resource-invalid' as const,
      message: `valueQuantity.value: Invalid input: expected number, received string; resource left out`,
      resource: `Observation/o${n}`,
    }));
    const a = assessOn(10, [infusion(0), anc(9, 0.2)], { inputIssues });
    expect(unreadDataNote(a)).toBe(
      '**Data not used:** 5 records could not be read and were left out: Observation/o1 (valueQuantity.value: Invalid input: expected number, received string); Observation/o2 (valueQuantity.value: Invalid input: expected number, received string); Observation/o3 (valueQuantity.value: Invalid input: expected number, received string); and 2 more. What this card says rests on the rest of the record; check the chart for what is missing.',
    );
  });
});

describe('no counts', () => {
  const leftOut = {
    severity: 'warning' as const,
    code: 'resource-invalid' as const,
    message: 'valueQuantity.value: Invalid input: expected number, received string; resource left out',
    resource: 'Observation/anc-1',
  };
  const summaryOf = (inputIssues: (typeof leftOut)[]) => {
    const a = assessOn(10, [infusion(0)], { inputIssues });
    const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
    return patientViewCards(a, clinical.thresholds, ctx).at(-1);
  };

  test('when Observations were there but could not be read, the summary does not say there are none', () => {
    const card = summaryOf([leftOut]);
    expect(card?.summary).toBe('CAR-T day +10: early ICAHT not gradable (no ANC); no readable counts since infusion');
    expect(card?.detail).toContain('_No blood count since the infusion could be read: see the data notes._');
  });

  test('when there were none, it says so', () => {
    const card = summaryOf([]);
    expect(card?.summary).toBe('CAR-T day +10: early ICAHT not gradable (no ANC); no counts since infusion');
    expect(card?.detail).toContain('_No blood counts since the infusion._');
  });
});
