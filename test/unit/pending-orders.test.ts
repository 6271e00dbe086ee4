/**
 * Orders still to be carried out (src/clinical/record.ts pendingOrders; docs/clinical-logic.md §6):
 * an active G-CSF MedicationRequest or red cell / platelet ServiceRequest makes the card that would
 * ask for it show the order instead, without offering a duplicate, and a critical card a warning.
 * Statuses and intents as FHIR R4 defines them (request-status, request-intent); expected texts
 * written from the rule.
 */
import { describe, expect, test } from '@jest/globals';
import type { FhirResource, MedicationRequest, ServiceRequest } from 'fhir/r4.js';
import { patientViewCards } from '../../src/cards/patient-view.js';
import { pendingOrders, recordFromResources } from '../../src/clinical/record.js';
import { loadClinicalContext } from '../../src/profiles.js';
import { anc, assessOn, dateOf, hb, infusion, patient, PATIENT_ID, plt, RX, testTerminology } from '../helpers/fhir.js';

const SNOMED = 'http://snomed.info/sct';
const clinical = loadClinicalContext({ timeZone: 'UTC' });
const ctx = { serviceId: 'cart-hematotox-patient-view', patientId: PATIENT_ID, smartLaunchUrl: undefined };

function gcsfOrder(o: Partial<MedicationRequest> = {}): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: 'mr-1',
    status: 'active',
    intent: 'order',
    // RxNorm 68442: filgrastim (ValueSet g-csf)
    medicationCodeableConcept: { coding: [{ system: RX, code: '68442' }], text: 'Filgrastim 480 mcg' },
    subject: { reference: `Patient/${PATIENT_ID}` },
    authoredOn: `${dateOf(9)}T07:30:00Z`,
    ...o,
  };
}

function bloodOrder(code: string, o: Partial<ServiceRequest> = {}): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: SNOMED, code }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    authoredOn: `${dateOf(9)}T08:00:00Z`,
    ...o,
  };
}

const pending = (...resources: FhirResource[]) =>
  pendingOrders(recordFromResources([patient(), ...resources]).record, testTerminology(), 'UTC', dateOf(9)).map((o) => [
    o.kind,
    o.reference,
    o.authoredOn,
  ]);

describe('which orders are pending', () => {
  test.each<[string, FhirResource, unknown[]]>([
    [
      'G-CSF, active order (R4 request-status "active": ready to be acted upon)',
      gcsfOrder(),
      [['g-csf', 'MedicationRequest/mr-1', dateOf(9)]],
    ],
    ['G-CSF, completed: done, not pending', gcsfOrder({ status: 'completed' }), []],
    ['G-CSF, on-hold: suspended, not to be acted upon now', gcsfOrder({ status: 'on-hold' }), []],
    ['G-CSF, draft: not yet an order in force', gcsfOrder({ status: 'draft' }), []],
    ['G-CSF, entered-in-error', gcsfOrder({ status: 'entered-in-error' }), []],
    ['G-CSF, intent proposal (R4 request-intent: a suggestion, not an order)', gcsfOrder({ intent: 'proposal' }), []],
    ['G-CSF, intent plan', gcsfOrder({ intent: 'plan' }), []],
    [
      'G-CSF, intent original-order',
      gcsfOrder({ intent: 'original-order' }),
      [['g-csf', 'MedicationRequest/mr-1', dateOf(9)]],
    ],
    ['G-CSF, doNotPerform: an order not to give it', gcsfOrder({ doNotPerform: true }), []],
    ['G-CSF, authored after the assessment date', gcsfOrder({ authoredOn: `${dateOf(10)}T07:00:00Z` }), []],
    [
      'G-CSF, no authoredOn: pending, date unknown',
      gcsfOrder({ authoredOn: undefined }),
      [['g-csf', 'MedicationRequest/mr-1', null]],
    ],
    [
      'G-CSF, authoredOn to the month only: pending, date unknown',
      gcsfOrder({ authoredOn: dateOf(9).slice(0, 7) }),
      [['g-csf', 'MedicationRequest/mr-1', null]],
    ],
    [
      'another drug (tocilizumab, RxNorm 612865): not an order a card asks for',
      gcsfOrder({ medicationCodeableConcept: { coding: [{ system: RX, code: '612865' }] } }),
      [],
    ],
    [
      'platelets (SNOMED 12719002, ValueSet platelet-transfusion)',
      bloodOrder('12719002'),
      [['platelet-transfusion', 'ServiceRequest/sr-1', dateOf(9)]],
    ],
    [
      'red cells (SNOMED 116863004, ValueSet red-cell-transfusion)',
      bloodOrder('116863004'),
      [['red-cell-transfusion', 'ServiceRequest/sr-1', dateOf(9)]],
    ],
    ['a blood count order (SNOMED 26604007): not a transfusion', bloodOrder('26604007'), []],
    ['platelets, revoked', bloodOrder('12719002', { status: 'revoked' }), []],
    ['another patient’s order: not this patient’s', gcsfOrder({ subject: { reference: 'Patient/other' } }), []],
  ])('%s', (_name, resource, expected) => {
    expect(pending(resource)).toEqual(expected);
  });

  test('a G-CSF order naming a Medication in the record by reference', () => {
    const medication: FhirResource = {
      resourceType: 'Medication',
      id: 'filgrastim',
      code: { coding: [{ system: RX, code: '68442' }] },
    };
    const order = gcsfOrder({
      medicationCodeableConcept: undefined,
      medicationReference: { reference: 'Medication/filgrastim' },
    });
    expect(pending(medication, order)).toEqual([['g-csf', 'MedicationRequest/mr-1', dateOf(9)]]);
  });
});

describe('the card of a treatment already ordered', () => {
  const cardsOn = (resources: FhirResource[], asOfIsToday = true) =>
    patientViewCards(
      assessOn(9, [infusion(0), ...resources], { thresholds: clinical.thresholds, asOfIsToday }),
      clinical.thresholds,
      ctx,
    );

  test('severe neutropenia with G-CSF ordered today and no dose given: shown, warning, no new order offered', () => {
    const card = cardsOn([anc(9, 0.3), gcsfOrder()]).find((c) => c.summary.startsWith('ANC'));
    expect(card?.summary).toBe(
      `ANC 0.3 ×10⁹/L on day +9: G-CSF ordered on ${dateOf(9)}, no dose recorded yet; check it is given`,
    );
    expect(card?.indicator).toBe('warning');
    expect(card?.suggestions).toBeUndefined();
    expect(card?.detail).toContain(
      `**Already ordered, not yet recorded as given:** Filgrastim 480 mcg (MedicationRequest/mr-1, ordered ${dateOf(9)}). No new order is offered; check that it is carried out.`,
    );
    // actions.gcsfRecentDays: 2 (docs/clinical-logic.md, g-csf row)
    expect(card?.detail).toContain('no G-CSF is recorded in the last 2 days');
  });

  test('without the order: critical, and the draft filgrastim order is offered (unchanged)', () => {
    const card = cardsOn([anc(9, 0.3)]).find((c) => c.summary.startsWith('ANC'));
    expect(card?.summary).toBe('ANC 0.3 ×10⁹/L on day +9, no G-CSF recorded: consider filgrastim 5 µg/kg/day');
    expect(card?.indicator).toBe('critical');
    expect(card?.suggestions?.map((s) => s.label)).toEqual(['Order filgrastim 5 µg/kg/day (draft)']);
  });

  test('an assessment not as of today does not read order statuses: the card is as without the order', () => {
    const card = cardsOn([anc(9, 0.3), gcsfOrder()], false).find((c) => c.summary.startsWith('ANC'));
    expect(card?.indicator).toBe('critical');
    expect(card?.suggestions).toHaveLength(1);
  });

  test('platelets 5 with irradiated platelets ordered: shown without a new order; the red cell card keeps its order', () => {
    // Triggers: PLT < 20 ×10⁹/L, Hb < 60 g/L (clinical-spec, seed 002; counts.*.severe).
    const cards = cardsOn([plt(9, 5), hb(9, 55), bloodOrder('12719002')]);
    const platelets = cards.find((c) => c.summary.startsWith('Platelets'));
    expect(platelets?.summary).toBe(
      `Platelets 5 ×10⁹/L on day +9 (below 20): platelets ordered on ${dateOf(9)}, no transfusion recorded yet`,
    );
    expect(platelets?.indicator).toBe('warning');
    expect(platelets?.suggestions).toBeUndefined();
    const redCells = cards.find((c) => c.summary.startsWith('Hb'));
    expect(redCells?.suggestions?.map((s) => s.label)).toEqual(['Order irradiated red cells (draft)']);
  });
});
