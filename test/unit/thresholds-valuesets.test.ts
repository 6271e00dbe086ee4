/**
 * Hospital thresholds (every default overridable, bad files name the field) and the FHIR ValueSets
 * in fhir-profiles/ (one per role, each concept coded and displayed).
 */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROLES, buildTerminology } from '../../src/clinical/terminology.js';
import {
  DEFAULT_THRESHOLDS,
  parseThresholds,
  sourceFor,
  SOURCES,
  transfusionTrigger,
} from '../../src/clinical/thresholds.js';
import { ConfigError } from '../../src/config.js';
import { loadLocalCodes, loadThresholds, loadValueSets } from '../../src/profiles.js';

const tmp = mkdtempSync(join(tmpdir(), 'thresholds-'));
const file = (name: string, text: string): string => {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
};

describe('thresholds', () => {
  test('the defaults are the documented values (docs/clinical-logic.md)', () => {
    // One setting per clinical number (docs/clinical-logic.md §3): every rule that uses 0.5, 20 or 60 reads it here.
    expect(DEFAULT_THRESHOLDS.counts).toEqual({
      neutrophils: { ctcaeGrade2: 1.5, ctcaeGrade3: 1.0, severe: 0.5, profound: 0.1 },
      platelets: { lateTIcahtGrade1: 100, ctcaeGrade2: 75, ctcaeGrade3: 50, ctcaeGrade4: 25, severe: 20 },
      hemoglobin: { ctcaeGrade2: 100, ctcaeGrade3: 80, severe: 60 },
      wbc: { ctcaeGrade2: 3.0, ctcaeGrade3: 2.0, ctcaeGrade4: 1.0 },
      lymphocytes: { ctcaeGrade2: 0.8, ctcaeGrade3: 0.5, ctcaeGrade4: 0.2 },
    });
    expect(DEFAULT_THRESHOLDS.icaht).toEqual({
      earlyLastDay: 30,
      durationDays: { short: 7, long: 14 },
      noRecoveryOnsetByDay: 3,
      lateConfirmations: 2,
      lateLastDay: null,
      lateTIcahtLastDay: 100,
      biphasicAfterDay: 21,
    });
    expect(DEFAULT_THRESHOLDS.irradiation).toEqual({ daysBeforeLeukapheresis: 7, fallbackFromDay: -7, untilDay: 90 });
    expect(DEFAULT_THRESHOLDS.lln).toEqual({
      anc: 1.8,
      platelets: 150,
      hemoglobinMale: 120,
      hemoglobinFemale: 110,
      wbc: 4.0,
      lymphocytes: 1.0,
    });
    expect(DEFAULT_THRESHOLDS.hematotox).toMatchObject({
      plateletsLow: 75,
      plateletsHigh: 175,
      anc: 1.2,
      hemoglobin: 90,
      crp: 3.0,
      ferritinLow: 650,
      ferritinHigh: 2000,
      highRiskScore: 2,
    });
    expect(DEFAULT_THRESHOLDS.actions).toMatchObject({ ivigIgg: 400 });
    // Transfusion triggers default to the severe thresholds, not to a second copy of them.
    expect(DEFAULT_THRESHOLDS.actions.redCellHemoglobin).toBeUndefined();
    expect(transfusionTrigger(DEFAULT_THRESHOLDS, 'red-cell')).toEqual({ value: 60, path: 'counts.hemoglobin.severe' });
    expect(transfusionTrigger(DEFAULT_THRESHOLDS, 'platelet')).toEqual({ value: 20, path: 'counts.platelets.severe' });
  });

  test('changing the severe platelet count changes every rule that uses it, and only those', () => {
    const t = parseThresholds({ counts: { platelets: { severe: 10 } } }).values;
    expect(transfusionTrigger(t, 'platelet')).toEqual({ value: 10, path: 'counts.platelets.severe' });
    expect(transfusionTrigger(t, 'red-cell').value).toBe(60);
  });

  test('a YAML file overrides one value and remembers it', () => {
    const t = loadThresholds(file('t.yaml', 'actions:\n  redCellHemoglobin: 70\n'));
    expect(t.values.actions.redCellHemoglobin).toBe(70);
    expect(transfusionTrigger(t.values, 'platelet').value).toBe(20);
    expect([...t.overridden]).toEqual(['actions.redCellHemoglobin']);
    expect(sourceFor(t, 'actions.redCellHemoglobin', SOURCES.seed002).label).toContain(
      'Hospital setting (default from Wang et al.',
    );
    expect(sourceFor(t, 'actions.plateletCount', SOURCES.seed002)).toBe(SOURCES.seed002);
  });

  test('the hospital names its protocol: cited (with the default source) only for the values it changed', () => {
    const t = loadThresholds('config/thresholds.example.yaml');
    expect(sourceFor(t, 'actions.plateletCount', SOURCES.seed002)).toEqual({
      label: `Example University Hospital CAR-T transfusion SOP v3 (default from ${SOURCES.seed002.label})`,
      url: 'https://intranet.example-hospital.org/sop/car-t-transfusion',
    });
    expect(sourceFor(t, 'counts.neutrophils.severe', SOURCES.ehaEbmt)).toBe(SOURCES.ehaEbmt);
    // Without a hospital URL the card still links the evidence behind the default.
    expect(
      sourceFor(parseThresholds({ actions: { plateletCount: 10 } }), 'actions.plateletCount', SOURCES.seed002).url,
    ).toBe(SOURCES.seed002.url);
  });

  test('a JSON file works the same', () => {
    expect(
      loadThresholds(file('t.json', '{"counts":{"platelets":{"severe":10}}}')).values.counts.platelets.severe,
    ).toBe(10);
  });

  test.each([
    ['unknown field', 'actions:\n  redCellHb: 70\n', 'actions: Unrecognized key: "redCellHb"'],
    ['wrong type', 'counts:\n  neutrophils:\n    severe: low\n', 'counts.neutrophils.severe:'],
    ['negative', 'lln:\n  anc: -1\n', 'lln.anc:'],
    [
      'grades out of order',
      'counts:\n  platelets:\n    ctcaeGrade3: 80\n',
      'counts.platelets.ctcaeGrade3: must be below ctcaeGrade2',
    ],
    ['not YAML', 'a: [b', 'is not valid JSON or YAML'],
    ['protocol link over http', 'source:\n  label: SOP\n  url: http://intranet/sop\n', 'source.url:'],
    ['protocol without label', 'source:\n  url: https://intranet/sop\n', 'source.label:'],
    // Only JSON's types: YAML 1.1 types and unknown tags are refused, not turned into Buffers, Sets or strings.
    ['a !!binary value', 'source:\n  label: !!binary aGVsbG8=\n', 'source.label: not a JSON value'],
    ['a !!set', 'actions: !!set {a, b}\n', 'actions: not a JSON value'],
    ['a !!timestamp', 'source:\n  label: !!timestamp 2001-12-14\n', 'source.label: not a JSON value'],
    ['an unknown tag', 'actions: !foo x\n', 'is not valid JSON or YAML (Unresolved tag: !foo'],
    ['a __proto__ key', '{"actions": {"__proto__": {"ivigIgg": 1}}}', 'actions.__proto__: not an allowed key'],
  ])('a bad file stops start-up naming the field: %s', (_name, text, message) => {
    const path = file(`bad-${Math.random()}.yaml`, text);
    expect(() => loadThresholds(path)).toThrow(ConfigError);
    try {
      loadThresholds(path);
    } catch (error) {
      expect((error as ConfigError).message).toContain(message);
    }
  });

  test('parseThresholds({}) is the default', () => {
    expect(parseThresholds({}).values).toEqual(DEFAULT_THRESHOLDS);
  });
});

describe('ValueSets in fhir-profiles/', () => {
  const valueSets = loadValueSets();

  // HL7 OIDs of the code systems (FHIR R4 NamingSystem "terminologies"), as C-CDA and HL7 v2 conversions write them.
  test.each([
    ['urn:oid:2.16.840.1.113883.6.1', '751-8', 'anc'], // LOINC: Neutrophils [#/volume] in Blood by Automated count
    ['urn:oid:2.16.840.1.113883.6.88', '68442', 'g-csf'], // RxNorm: filgrastim
    ['urn:oid:2.16.840.1.113883.6.69', '0078-0846-19', 'car-t-product'], // NDC: Kymriah, 1 bag
    ['urn:oid:2.16.840.1.113883.6.12', '38228', 'car-t-infusion-procedure'], // CPT
    ['urn:oid:2.16.840.1.113883.6.96', '116863004', 'red-cell-transfusion'], // SNOMED CT
  ])('a coding with system %s and code %s is read as %s, as with the system URI', (system, code, role) => {
    const terminology = buildTerminology(valueSets);
    expect(terminology.lookup(system, code).map((i) => i.role)).toContain(role);
  });

  test('one ValueSet per role, each a valid active R4 ValueSet with coded, displayed concepts', () => {
    expect(valueSets.map((v) => v.id).sort()).toEqual([...ROLES].sort());
    for (const vs of valueSets) {
      expect(vs).toMatchObject({
        resourceType: 'ValueSet',
        status: 'active',
        url: `https://cart-hematotox-cds.example.org/fhir/ValueSet/${vs.id}`,
      });
      expect(vs.description).toMatch(/Source:|clinical-spec/);
      for (const include of vs.compose?.include ?? []) {
        expect(include.system).toMatch(/^https?:\/\//);
        for (const concept of include.concept ?? []) {
          expect(concept.code).toMatch(/\S/);
          expect(concept.display).toMatch(/\S/);
        }
      }
    }
  });

  test('the spec codes are matched to their roles (docs/clinical-logic.md §1)', () => {
    const t = buildTerminology(valueSets);
    const role = (system: string, code: string) => t.lookup(system, code).map((i) => i.role);
    expect(role('http://loinc.org', '751-8')).toEqual(['anc']);
    expect(role('http://loinc.org', '718-7')).toEqual(['hemoglobin']);
    expect(role('http://loinc.org', '2465-3')).toEqual(['igg']);
    expect(role('http://www.nlm.nih.gov/research/umls/rxnorm', '68442')).toEqual(['g-csf']);
    expect(role('http://www.ama-assn.org/go/cpt', '38228')).toEqual(['car-t-infusion-procedure']);
    expect(t.lookup('http://www.cms.gov/Medicare/Coding/ICD10', 'XW033J7')[0]).toMatchObject({
      role: 'car-t-infusion-procedure',
      product: 'tisagenlecleucel',
    });
    expect(t.lookup('http://hl7.org/fhir/sid/icd-10-cm', 'D89.833')[0]).toMatchObject({
      role: 'crs-condition',
      crsGrade: 3,
    });
  });

  test('a hospital adds local codes by configuration, without code changes', () => {
    const path = file(
      'codes.yaml',
      'codes:\n  anc:\n    - system: urn:oid:1.2.3.4\n      code: NEUT-ABS\n  car-t-product:\n    - system: urn:local:pharmacy\n      code: KYM\n      product: tisagenlecleucel\n',
    );
    const t = buildTerminology(valueSets, loadLocalCodes(path));
    expect(t.lookup('urn:oid:1.2.3.4', 'NEUT-ABS').map((i) => i.role)).toEqual(['anc']);
    expect(t.lookup('urn:local:pharmacy', 'KYM')[0]).toMatchObject({
      role: 'car-t-product',
      product: 'tisagenlecleucel',
    });
  });

  test('pegfilgrastim and its biosimilars are long-acting G-CSF; filgrastim is not (fhir-profiles/README.md)', () => {
    const t = buildTerminology(valueSets);
    const rx = (code: string) => t.lookup('http://www.nlm.nih.gov/research/umls/rxnorm', code)[0];
    // RxNorm: 338036 pegfilgrastim (IN), 727539 pegfilgrastim 6 mg syringe (Neulasta form), 2613763
    // pegfilgrastim-fpgk (Stimufend); 68442 filgrastim (IN), 1605066 filgrastim-sndz (Zarxio form).
    for (const code of ['338036', '727539', '2613763'])
      expect(rx(code)).toMatchObject({ role: 'g-csf', longActing: true });
    for (const code of ['68442', '1605066']) expect(rx(code)?.longActing).toBeUndefined();
    // Matched by name in a local product's text: the ingredient name pegfilgrastim is long-acting too.
    expect(t.matchName({ text: 'Pegfilgrastim 6 mg s.c.' }, ['g-csf'])).toMatchObject({
      role: 'g-csf',
      longActing: true,
    });
    expect(t.matchName({ text: 'Filgrastim 300 mcg s.c.' }, ['g-csf'])?.longActing).toBeUndefined();
    const path = file(
      'codes-peg.yaml',
      'codes:\n  g-csf:\n    - system: urn:local:pharmacy\n      code: LIPEG\n      display: lipegfilgrastim\n      longActing: true\n',
    );
    expect(buildTerminology(valueSets, loadLocalCodes(path)).lookup('urn:local:pharmacy', 'LIPEG')[0]).toMatchObject({
      role: 'g-csf',
      longActing: true,
    });
  });

  test('a local codes file whose role is __proto__ is refused, not silently dropped', () => {
    const path = file('codes-proto.json', '{"codes":{"__proto__":[{"system":"x","code":"y"}]}}');
    expect(() => loadLocalCodes(path)).toThrow(/codes\.__proto__: not an allowed key/);
  });

  test('a local codes file with an unknown role is refused naming it', () => {
    const path = file('codes-bad.yaml', 'codes:\n  neutrophils:\n    - system: x\n      code: y\n');
    expect(() => loadLocalCodes(path)).toThrow(/codes: Unrecognized key: "neutrophils"/);
  });
});
