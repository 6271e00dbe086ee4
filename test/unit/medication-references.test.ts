/**
 * A MedicationAdministration naming its drug by reference (docs/clinical-logic.md §1): the
 * Medication is found however the reference is written (relative, absolute, versioned, contained),
 * and an administration whose Medication is not in the data given is said, never silently dropped:
 * it may be the CAR-T product, a G-CSF dose or IVIG.
 */
import { describe, expect, test } from '@jest/globals';
import type { FhirResource, Medication, MedicationAdministration } from 'fhir/r4.js';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { medicationKey, medicationsToRead } from '../../src/clinical/record.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { administration, anc, assessOn, dateOf, infusion, PATIENT_ID, RX } from '../helpers/fhir.js';

const medication = (id: string, system: string, code: string): Medication => ({
  resourceType: 'Medication',
  id,
  code: { coding: [{ system, code }] },
});
const filgrastim = medication('filgrastim', RX, '68442'); // RxNorm 68442: filgrastim (g-csf ValueSet)
const kymriah = medication('kymriah', 'http://hl7.org/fhir/sid/ndc', '0078-0846-19'); // tisagenlecleucel (car-t-product)

function givenByReference(
  id: string,
  reference: string,
  day: number,
  o: { status?: MedicationAdministration['status']; contained?: Medication[] } = {},
): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id,
    status: o.status ?? 'completed',
    medicationReference: { reference },
    subject: { reference: `Patient/${PATIENT_ID}` },
    effectiveDateTime: `${dateOf(day)}T10:00:00Z`,
    ...(o.contained ? { contained: o.contained } : {}),
  };
}

describe('the Medication an administration names is found however the reference is written', () => {
  test.each([
    ['relative', 'Medication/filgrastim'],
    ['absolute (a Bundle fullUrl)', 'https://ehr.example.org/fhir/R4/Medication/filgrastim'],
    ['versioned', 'Medication/filgrastim/_history/3'],
  ])('%s: %s is a G-CSF dose on day +3', (_how, reference) => {
    const a = assessOn(5, [infusion(0), filgrastim, givenByReference('ma-g', reference, 3)], { includeSeries: true });
    expect((a.events ?? []).filter((e) => e.kind === 'g-csf').map((e) => [e.day, e.reference])).toEqual([
      [3, 'MedicationAdministration/ma-g'],
    ]);
    expect(a.issues.filter((i) => i.code === 'medication-unknown')).toEqual([]);
  });

  test('the CAR-T product by an absolute reference sets day 0', () => {
    const a = assessOn(10, [kymriah, givenByReference('ma-k', 'https://ehr.example.org/fhir/Medication/kymriah', 0)]);
    expect(a.infusionDate).toBe(dateOf(0));
    expect(a.dayPostInfusion).toBe(10);
  });

  test('a contained Medication ("#m1")', () => {
    const contained = { ...filgrastim, id: 'm1' };
    const a = assessOn(5, [infusion(0), givenByReference('ma-c', '#m1', 2, { contained: [contained] })], {
      includeSeries: true,
    });
    expect((a.events ?? []).filter((e) => e.kind === 'g-csf').map((e) => e.day)).toEqual([2]);
  });

  test.each<[string, string | undefined]>([
    ['Medication/a1', 'Medication/a1'],
    ['http://x/fhir/Medication/a-1.b', 'Medication/a-1.b'],
    ['Medication/a1/_history/2', 'Medication/a1'],
    ['Patient/p1', undefined],
    ['Medication/', undefined],
    ['Medication/a b', undefined],
  ])('medicationKey(%j) is %j', (reference, key) => {
    expect(medicationKey(reference)).toBe(key);
  });
});

test('medicationsToRead: the Medications named and not held, in the order first named; anything else is passed over', () => {
  const input = [
    null,
    'text',
    givenByReference('ma-1', 'Medication/b', 1),
    givenByReference('ma-2', 'https://ehr.example.org/fhir/Medication/a/_history/2', 1),
    givenByReference('ma-3', 'Medication/b', 2),
    givenByReference('ma-4', '#contained', 2),
    givenByReference('ma-5', 'Medication/held', 2),
    { ...givenByReference('ma-6', 'Medication/c', 2), medicationReference: 'Medication/c' },
    { resourceType: 'Medication', id: 'held' },
  ] as unknown as FhirResource[];
  expect(medicationsToRead(input)).toEqual(['Medication/b', 'Medication/a']);
  // The same resources given as the lists of several search keys: a Medication held in one list
  // covers an administration in another.
  expect(medicationsToRead(input.slice(0, 4), [], input.slice(4))).toEqual(['Medication/b', 'Medication/a']);
  expect(medicationsToRead(input.slice(0, 8))).toEqual(['Medication/b', 'Medication/a', 'Medication/held']);
});

describe('an administration whose Medication is not in the data given', () => {
  const clinical = loadClinicalContext({ timeZone: 'UTC' });
  const ctx = { serviceId: 'svc', patientId: 'p1', smartLaunchUrl: undefined, orderables: clinical.orderables };
  // Each row: the administration, the Medications sent, and why the card says what was given is not known.
  test.each<[string, MedicationAdministration, Medication[], string]>([
    [
      'a Medication the EHR did not send (or a read could not get)',
      givenByReference('ma-1', 'Medication/not-sent', 3),
      [],
      'Medication/not-sent was not in the data received',
    ],
    [
      'a Medication with no code',
      givenByReference('ma-1', 'Medication/not-sent', 3),
      [{ resourceType: 'Medication', id: 'not-sent' }],
      'Medication/not-sent has no drug code',
    ],
    [
      'a contained Medication that is not there',
      givenByReference('ma-1', '#gone', 3),
      [],
      'its contained Medication #gone is missing',
    ],
    [
      'a contained Medication with no code',
      givenByReference('ma-1', '#m1', 3, { contained: [{ resourceType: 'Medication', id: 'm1' }] }),
      [],
      'its contained Medication #m1 has no drug code',
    ],
    [
      'a contained Medication named by an id that is not a FHIR id, carrying markdown',
      givenByReference('ma-1', '#x **Order now**', 3),
      [],
      'its contained Medication is named by an id that is not a FHIR id',
    ],
    [
      // Input text never reaches the card: only a checked Medication id does.
      'a reference that is not to a Medication, carrying markdown',
      givenByReference('ma-1', 'Medication/x) **Order now** [link](https://evil.example) (', 3),
      [],
      'its drug reference is not to a Medication',
    ],
    [
      'a urn:uuid: that names no entry (a transaction whose Medication was not sent or was left out)',
      givenByReference('ma-1', 'urn:uuid:11111111-2222-4333-8444-555555555555', 3),
      [],
      'its drug reference names nothing in the data received',
    ],
    [
      'an empty drug concept ({})',
      { ...givenByReference('ma-1', 'x', 3), medicationReference: undefined, medicationCodeableConcept: {} },
      [],
      'its drug is recorded with neither a code nor a name',
    ],
    [
      'a drug concept with an empty coding list and an empty text',
      {
        ...givenByReference('ma-1', 'x', 3),
        medicationReference: undefined,
        medicationCodeableConcept: { coding: [], text: ' ' },
      },
      [],
      'its drug is recorded with neither a code nor a name',
    ],
    [
      'no drug at all (FHIR requires medication[x])',
      { ...givenByReference('ma-1', 'x', 3), medicationReference: undefined },
      [],
      'it names no drug',
    ],
    [
      'a reference with neither a reference nor a display',
      { ...givenByReference('ma-1', 'x', 3), medicationReference: {} },
      [],
      'it names no drug',
    ],
    [
      'a Medication whose code is empty',
      givenByReference('ma-1', 'Medication/empty', 3),
      [
        {
          resourceType: 'Medication',
          id: 'empty',
          code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm' }] },
        },
      ],
      'Medication/empty has no drug code',
    ],
    [
      'a reference with a display only',
      { ...givenByReference('ma-1', 'x', 3), medicationReference: { display: 'Kymriah' } },
      [],
      'its drug is named by text only, with no reference to a Medication',
    ],
  ])('%s is reported (medication-unknown), not dropped without a word', (_why, ma, extra, why) => {
    const a = assessOn(5, [infusion(0), ma, ...extra]);
    expect(a.issues.filter((i) => i.code === 'medication-unknown')).toEqual([
      {
        severity: 'warning',
        code: 'medication-unknown',
        message: `${why}: what was given is not known`,
        resource: 'MedicationAdministration/ma-1',
      },
    ]);
  });

  test('a reference with a display only that names a known drug is recognised by that name, as a draft order is', () => {
    const ma = { ...givenByReference('ma-1', 'x', 4), medicationReference: { display: 'Neupogen 300 mcg' } };
    const a = assessOn(5, [infusion(0), anc(5, 0.2), ma], { includeSeries: true });
    expect(a.issues.filter((i) => i.code === 'medication-unknown')).toEqual([]);
    expect(a.events?.filter((e) => e.kind === 'g-csf').map((e) => e.day)).toEqual([4]);
    expect(a.recommendations.map((r) => r.kind)).not.toContain('g-csf');
  });

  test('an administration given twice is reported once; one dated after the assessment date not at all', () => {
    const twice = givenByReference('ma-1', 'Medication/not-sent', 3);
    const later = givenByReference('ma-later', 'Medication/not-sent', 9);
    const a = assessOn(5, [infusion(0), twice, { ...twice }, later]);
    expect(a.issues.filter((i) => i.code === 'medication-unknown').map((i) => i.resource)).toEqual([
      'MedicationAdministration/ma-1',
    ]);
  });

  test('one not given (not-done) is not reported: it would not count whatever it was', () => {
    const a = assessOn(5, [infusion(0), givenByReference('ma-1', 'Medication/not-sent', 3, { status: 'not-done' })]);
    expect(a.issues.filter((i) => i.code === 'medication-unknown')).toEqual([]);
  });

  test('the G-CSF card says a G-CSF dose may be among them, and every card says what was not read', () => {
    const a = assessOn(5, [infusion(0), anc(5, 0.2), givenByReference('ma-1', 'Medication/not-sent', 3)], {
      thresholds: clinical.thresholds,
    });
    const card = patientViewCards(a, clinical.thresholds, ctx).find((c) => c.summary.startsWith('ANC'));
    expect(card?.summary).toBe('ANC 0.2 ×10⁹/L on day +5, no G-CSF recorded: consider filgrastim 5 µg/kg/day');
    expect(card?.detail).toContain(
      '1 MedicationAdministration record could not be read: a G-CSF dose among them would not be counted here. Check the chart before ordering.',
    );
    expect(card?.detail).toContain(
      `**Data not used:** 1 record names a drug that could not be identified and was left out: MedicationAdministration/ma-1 (Medication/not-sent was not in the data received). What this card says rests on the rest of the record; check the chart for what is missing.`,
    );
  });
});

describe('an administration under a hospital’s own drug code is recognised by the drug’s name, as orders are', () => {
  const LOCAL = 'https://hospital.example.org/fhir/CodeSystem/pharmacy';
  const given = (text: string, day: number) => ({
    ...administration(LOCAL, 'RX-4711', day),
    medicationCodeableConcept: { coding: [{ system: LOCAL, code: 'RX-4711' }], text },
  });
  const kinds = (text: string) =>
    (assessOn(5, [infusion(0), anc(5, 0.2), given(text, 4)], { includeSeries: true }).events ?? [])
      .filter((e) => e.kind !== 'car-t')
      .map((e) => [e.kind, e.day]);

  // Names from the ValueSets' RxNorm ingredient and brand concepts (term types IN, PIN, BN).
  test.each<[string, [string, number][]]>([
    ['filgrastim-sndz (ZARXIO) 480 mcg/0.8 mL injection', [['g-csf', 4]]],
    ['Pegfilgrastim 6 mg/0.6 mL syringe', [['g-csf', 4]]],
    ['tocilizumab 8 mg/kg IV', [['tocilizumab', 4]]],
    ['dexamethasone 10 mg IV', [['corticosteroid', 4]]],
    ['fludarabine 30 mg/m2 IV', [['lymphodepletion', 4]]],
    // Brand names (designation brand-name of the ingredient; FDA labels): the helper's "Neupogen 300 mcg" was
    // taken for another drug, and a critical "no G-CSF recorded" card followed.
    ['Neupogen 300 mcg', [['g-csf', 4]]],
    ['Granix 480 mcg/0.8 mL', [['g-csf', 4]]],
    ['Neulasta 6 mg Onpro', [['g-csf', 4]]],
    ['UDENYCA 6 mg/0.6 mL', [['g-csf', 4]]],
    ['Actemra 400 mg IV', [['tocilizumab', 4]]],
    ['Tyenne 162 mg SC', [['tocilizumab', 4]]],
    // EU names (EMA): the service follows EHA/EBMT; and the US Fylnetra (pegfilgrastim-pbbk, FDA 2022).
    ['Zarzio 30 MU/0.5 ml', [['g-csf', 4]]],
    ['Pelgraz 6 mg', [['g-csf', 4]]],
    ['Fylnetra 6 mg/0.6 mL', [['g-csf', 4]]],
    ['RoActemra 20 mg/ml infusion', [['tocilizumab', 4]]],
    ['Kymriah (tisagenlecleucel) suspension', []], // the CAR-T products have no names in their ValueSet: code only
    ['dexamethasone 0.1 % ophthalmic drops', []], // not systemic: no CRS treatment
    ['ondansetron 8 mg IV', []],
    ['nonfilgrastimlike 5 mg', []], // the name must stand as a word
  ])('"%s" → %j', (text, expected) => {
    expect(kinds(text)).toEqual(expected);
  });

  test('a local-code Neulasta counts as long-acting G-CSF: one dose covers 14 days [actions.longActingGcsfDays]', () => {
    const a = assessOn(12, [infusion(0), anc(12, 0.2), given('Neulasta 6 mg', 2)], { includeSeries: true });
    expect(a.events?.find((e) => e.kind === 'g-csf')).toMatchObject({ day: 2, longActing: true });
    expect(a.recommendations.map((r) => r.kind)).not.toContain('g-csf');
  });

  test('a local-code filgrastim given yesterday: no "no G-CSF recorded" card on ANC 0.2', () => {
    const a = assessOn(5, [infusion(0), anc(5, 0.2), given('filgrastim-sndz (ZARXIO) 480 mcg/0.8 mL', 4)]);
    expect(a.recommendations.map((r) => r.kind)).not.toContain('g-csf');
    // Control: without it, the card is there.
    expect(assessOn(5, [infusion(0), anc(5, 0.2)]).recommendations.map((r) => r.kind)).toContain('g-csf');
  });
});
