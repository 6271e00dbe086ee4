/**
 * Structure-aware fuzzing of the HTTP endpoints, shared by test/integration/fuzz-endpoints.test.ts
 * (fast-check properties over the in-process app) and bench/fuzz-requests.ts (real HTTP against
 * the real server).
 *
 * A case is plain data: which endpoint, which synthetic patient (src/demo/generator.ts), which draft
 * orders or feedback, and a list of mutations. Each mutation names where it applies (a resource, a
 * Bundle, the request envelope or anywhere in the body) by index, and what it does there (replace a
 * field by a value of another type, a huge string, deep nesting, NaN-like or unicode text, an own
 * `__proto__` key; delete it; wrap or unwrap it; repeat an array element; change a resourceType;
 * copy another resource's id). Big values are described, not held, so shrunk counterexamples stay
 * readable: {@link buildRequest} materializes them.
 */
import fc from 'fast-check';
import type {
  Bundle,
  BundleEntry,
  FhirResource,
  Medication,
  MedicationAdministration,
  MedicationRequest,
  NutritionOrder,
  ServiceRequest,
} from 'fhir/r4.js';
import { patientResources, planPatient } from '../../src/demo/generator.js';
import { Rng } from '../../src/demo/kinetics.js';
import {
  amoxicillinOrder,
  dexamethasoneOrder,
  filgrastimOrder,
  nutritionOrder,
  tocilizumabOrder,
  transfusionOrder,
} from './orders.js';

export const SERVICE_IDS = {
  'patient-view': 'cart-hematotox-patient-view',
  'order-sign': 'cart-hematotox-order-sign',
  'order-select': 'cart-hematotox-order-select',
} as const;
export type HookEndpoint = keyof typeof SERVICE_IDS;
export type Endpoint = HookEndpoint | 'feedback' | 'assessments';
export const ENDPOINTS: readonly Endpoint[] = ['patient-view', 'order-sign', 'order-select', 'feedback', 'assessments'];

/** buildTestApp's clock is 2026-11-22T12:00:00Z; the real server uses today (pass it). */
export const TEST_TODAY = '2026-11-22';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Path = (string | number)[];

// ---- The good data: synthetic patients and draft orders ----------------------------------------

/** A synthetic patient: generator seed and day post infusion on "today" (null: never had CAR-T). */
export interface BaseSpec {
  seed: number;
  day: number | null;
}

/** Days post infusion, small records more often (they are faster and shrink there anyway). */
const dayArb = (withNone: boolean): fc.Arbitrary<number | null> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(1, 4, 9) },
    { weight: 2, arbitrary: fc.constantFrom(16, 28, 35) },
    { weight: withNone ? 1 : 0, arbitrary: fc.constant(null) },
  );
export const infusedBaseArb: fc.Arbitrary<BaseSpec> = fc.record({
  seed: fc.integer({ min: 1, max: 6 }),
  day: dayArb(false),
});
export const baseArb: fc.Arbitrary<BaseSpec> = fc.record({ seed: fc.integer({ min: 1, max: 6 }), day: dayArb(true) });

export const patientIdOf = (base: BaseSpec): string => `fuzz-${base.seed}-${base.day ?? 'none'}`;

const records = new Map<string, FhirResource[]>();

/**
 * The patient's resources as the demo generator makes them, plus the two other ways a
 * MedicationAdministration names its drug: a contained Medication (odd seeds) or a Medication
 * resource in the record (even seeds), both for the CAR-T product.
 */
export function patientRecord(base: BaseSpec, today: string): FhirResource[] {
  const key = `${base.seed}|${base.day ?? ''}|${today}`;
  let resources = records.get(key);
  if (!resources) {
    const rng = new Rng(base.seed * 7919 + (base.day ?? 0));
    const id = patientIdOf(base);
    const plan = planPatient(rng, { id, today, dayPostInfusion: base.day ?? undefined });
    resources = patientResources(plan, rng, today);
    const product = resources.find(
      (r): r is MedicationAdministration => r.resourceType === 'MedicationAdministration' && r.id === `${id}-car-t`,
    );
    if (product?.medicationCodeableConcept) {
      const code = product.medicationCodeableConcept;
      delete product.medicationCodeableConcept;
      if (base.seed % 2 === 1) {
        product.contained = [{ resourceType: 'Medication', id: 'product', code } satisfies Medication];
        product.medicationReference = { reference: '#product' };
      } else {
        resources.push({ resourceType: 'Medication', id: `${id}-product`, code } satisfies Medication);
        product.medicationReference = { reference: `Medication/${id}-product` };
      }
    }
    records.set(key, resources);
  }
  return resources;
}

function searchset(resources: FhirResource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.filter((r) => r.resourceType !== 'Medication').length,
    entry: resources.map((resource): BundleEntry => ({
      fullUrl: `https://ehr.example.org/fhir/${resource.resourceType}/${resource.id ?? ''}`,
      resource,
      search: { mode: resource.resourceType === 'Medication' ? 'include' : 'match' },
    })),
  };
}

/** The full prefetch of the hematotox services, as an EHR sends it (no fhirServer needed). */
export function fullPrefetch(resources: FhirResource[]): Record<string, FhirResource | null> {
  const of = (...types: string[]): FhirResource[] => resources.filter((r) => types.includes(r.resourceType));
  return {
    patient: of('Patient')[0] ?? null,
    observations: searchset(of('Observation')),
    medicationAdministrations: searchset(of('MedicationAdministration', 'Medication')),
    procedures: searchset(of('Procedure')),
    conditions: searchset(of('Condition')),
  };
}

export const ORDER_NAMES = [
  'tocilizumab',
  'dexamethasone',
  'filgrastim',
  'amoxicillin',
  'red-cells',
  'platelets',
  'nutrition',
] as const;
export type OrderName = (typeof ORDER_NAMES)[number];

function draftOrder(name: OrderName, patientId: string): MedicationRequest | ServiceRequest | NutritionOrder {
  switch (name) {
    case 'tocilizumab':
      return tocilizumabOrder(patientId);
    case 'dexamethasone':
      return dexamethasoneOrder(patientId);
    case 'filgrastim':
      return filgrastimOrder(patientId);
    case 'amoxicillin':
      return amoxicillinOrder(patientId);
    case 'red-cells':
      return transfusionOrder('rbc-1', patientId, 'red-cells');
    case 'platelets':
      return transfusionOrder('plt-1', patientId, 'platelets');
    case 'nutrition':
      return nutritionOrder(patientId);
  }
}

export interface FeedbackSpec {
  card: string;
  outcome: 'accepted' | 'overridden';
  comment: string | null;
}

// ---- Bad values ----------------------------------------------------------------------------------

/** A value put where another belongs; big ones are described and materialized late. */
export type Weird =
  | { t: 'number'; v: number }
  | { t: 'string'; v: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'object' }
  | { t: 'array' }
  | { t: 'huge'; length: number; unit: string }
  | { t: 'deep'; depth: number; shape: 'array' | 'object' }
  | { t: 'proto' }
  | { t: 'json'; v: Json };

const NAN_LIKE = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '0x1A',
  '1,5',
  ' 12 ',
  '',
  ' ',
  '٣',
  '12abc',
  'null',
  'undefined',
  'true',
  '[object Object]',
  '1e-400',
];
const DATE_LIKE = [
  '2026-02-30',
  '2026-11-22T25:61:00Z',
  '0000-00-00',
  '+275760-09-13T00:00:00Z',
  '99999-01-01',
  '2026',
  '2026-11',
  'T12:00',
  '2026-11-22T12:00:00',
  'yesterday',
  '1970-01-01T00:00:00Z',
];
const REFERENCE_LIKE = [
  'Patient/',
  '#',
  '#missing',
  'Patient/../../etc/passwd',
  'urn:uuid:',
  'http://',
  'Medication/',
  'Patient/fuzz-1-1/_history/1',
  '/Patient/x',
];
const PROTO_WORDS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
const UNICODE = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202e\u0041\u0042',
  'Ω≈ç√∫',
  '𝒜𝒷𝒸',
  'İı',
  'ﷺ',
  '\ufeff',
  '👩‍👩‍👧‍👦',
  'a\u0301\u0301\u0301',
  '\u2028\u2029',
  '<script>alert(1)</script>',
  '${x}{{context.patientId}}',
];

const weirdString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NAN_LIKE, ...DATE_LIKE, ...REFERENCE_LIKE, ...PROTO_WORDS, ...UNICODE),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ maxLength: 12 }),
);

const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 1e21, 0.1, 2 ** 31),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Text for string fields: prototype words twice as often (plain-object lookups by text are a classic). */
const hostileStringArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_WORDS) },
  { weight: 5, arbitrary: weirdString },
);

export const weirdArb: fc.Arbitrary<Weird> = fc.oneof(
  { weight: 4, arbitrary: weirdNumber.map((v): Weird => ({ t: 'number', v })) },
  { weight: 4, arbitrary: weirdString.map((v): Weird => ({ t: 'string', v })) },
  { weight: 1, arbitrary: fc.boolean().map((v): Weird => ({ t: 'bool', v })) },
  { weight: 3, arbitrary: fc.constant<Weird>({ t: 'null' }) },
  { weight: 2, arbitrary: fc.constant<Weird>({ t: 'object' }) },
  { weight: 2, arbitrary: fc.constant<Weird>({ t: 'array' }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('huge' as const),
      length: fc.constantFrom(1_000, 20_000, 200_000),
      unit: fc.constantFrom('a', '9', 'é', '𝒜', '\\', '"'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('deep' as const),
      depth: fc.constantFrom(50, 1_000, 5_000),
      shape: fc.constantFrom('array' as const, 'object' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Weird>({ t: 'proto' }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v): Weird => ({ t: 'json', v: v as Json })) },
);

/** The JSON type a Weird value will have once materialized. */
function weirdType(w: Weird): string {
  switch (w.t) {
    case 'number':
      return 'number';
    case 'string':
    case 'huge':
      return 'string';
    case 'bool':
      return 'boolean';
    case 'null':
      return 'null';
    case 'object':
    case 'proto':
      return 'object';
    case 'array':
      return 'array';
    case 'deep':
      return w.shape;
    case 'json':
      return jsonType(w.v);
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const DEEP = /"@@deep:(\d+):(array|object)@@"/g;

/** Deep nesting is spliced into the serialized body (no recursion in this process). */
function materialize(w: Weird): Json {
  switch (w.t) {
    case 'number':
    case 'string':
    case 'bool':
    case 'json':
      return w.v;
    case 'null':
      return null;
    case 'object':
      return {};
    case 'array':
      return [];
    case 'huge':
      return w.unit.repeat(Math.ceil(w.length / w.unit.length));
    case 'deep':
      return `@@deep:${w.depth}:${w.shape}@@`;
    case 'proto':
      return JSON.parse(
        '{"__proto__":{"polluted":"yes","resourceType":"Observation"},"constructor":{"prototype":{"polluted":"yes"}},"toString":"x","hasOwnProperty":1,"valueOf":null}',
      ) as Json;
  }
}

function deepText(depth: number, shape: string): string {
  return shape === 'array'
    ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

// ---- Mutations -----------------------------------------------------------------------------------

export type Op =
  | { op: 'replace'; value: Weird }
  | { op: 'delete' }
  | { op: 'hostileString'; value: string }
  | { op: 'swapType' }
  | { op: 'wrap' }
  | { op: 'unwrap' }
  | { op: 'repeat'; times: number }
  | { op: 'protoKey'; key: string; value: Weird }
  | { op: 'resourceType'; value: Json }
  | { op: 'duplicateId' };

/**
 * Where: `resource` (a resource found in the clean body, by index, then a path inside it),
 * `bundle` (a Bundle's own fields and entries), `envelope` (the request outside resources),
 * `body` (any path at all).
 */
export interface Mutation {
  target: 'resource' | 'bundle' | 'envelope' | 'body';
  index: number;
  path: number;
  /** Only paths ending in a field the engine reads (see HOT_KEYS). */
  hot: boolean;
  op: Op;
}

/** Fields the engine and the cards read: mutations aim here half of the time. */
const HOT_KEYS = new Set([
  'resourceType',
  'id',
  'status',
  'code',
  'coding',
  'system',
  'unit',
  'value',
  'valueQuantity',
  'referenceRange',
  'low',
  'high',
  'effectiveDateTime',
  'effectivePeriod',
  'effectiveInstant',
  'issued',
  'subject',
  'patient',
  'reference',
  'category',
  'medicationCodeableConcept',
  'medicationReference',
  'contained',
  'performedDateTime',
  'performedPeriod',
  'start',
  'end',
  'onsetDateTime',
  'abatementDateTime',
  'clinicalStatus',
  'birthDate',
  'gender',
  'entry',
  'resource',
  'orderDetail',
  'text',
  'display',
]);

function isHot(path: Path): boolean {
  const key = [...path].reverse().find((k): k is string => typeof k === 'string');
  return key !== undefined && HOT_KEYS.has(key);
}

const resourceTypeValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    'Patient',
    'Bundle',
    'OperationOutcome',
    'Observation',
    'MedicationAdministration',
    'Procedure',
    'Condition',
    'Medication',
    'observation',
    'Observation ',
    '',
    'Binary',
    'Parameters',
    '__proto__',
    'constructor',
  ),
  fc.constantFrom<Json>(null, 42, true, ['Observation'], { name: 'Observation' }),
);

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: weirdArb.map((value): Op => ({ op: 'replace', value })) },
  { weight: 4, arbitrary: fc.constant<Op>({ op: 'delete' }) },
  { weight: 4, arbitrary: hostileStringArb.map((value): Op => ({ op: 'hostileString', value })) },
  { weight: 3, arbitrary: fc.constant<Op>({ op: 'swapType' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ op: 'wrap' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ op: 'unwrap' }) },
  { weight: 1, arbitrary: fc.constantFrom(2, 50, 600).map((times): Op => ({ op: 'repeat', times })) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('protoKey' as const),
      key: fc.constantFrom(...PROTO_WORDS),
      value: weirdArb,
    }),
  },
  { weight: 1, arbitrary: resourceTypeValue.map((value): Op => ({ op: 'resourceType', value })) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: 'duplicateId' }) },
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  target: fc.oneof(
    { weight: 6, arbitrary: fc.constant('resource' as const) },
    { weight: 2, arbitrary: fc.constant('bundle' as const) },
    { weight: 2, arbitrary: fc.constant('envelope' as const) },
    { weight: 1, arbitrary: fc.constant('body' as const) },
  ),
  index: fc.nat(),
  path: fc.nat(),
  hot: fc.boolean(),
  op: opArb,
});

// ---- Cases ---------------------------------------------------------------------------------------

export interface FuzzCase {
  endpoint: Endpoint;
  base: BaseSpec;
  orders?: OrderName[];
  feedback?: FeedbackSpec[];
  query?: [string, string][];
  contentType: string;
  mutations: Mutation[];
  /** Cut the serialized body at this fraction (a raw, not structural, corruption). */
  truncate?: number;
}

const contentTypeArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constantFrom('application/fhir+json', 'application/json; charset=utf-8') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded'),
  },
);

const ordersArb = fc.subarray([...ORDER_NAMES], { minLength: 1 });
const feedbackArb = fc.array(
  fc.record({
    card: fc.uuid(),
    outcome: fc.constantFrom('accepted' as const, 'overridden' as const),
    comment: fc.option(fc.string({ maxLength: 30 }), { nil: null }),
  }),
  { minLength: 1, maxLength: 3 },
);
const dateArb = fc.constantFrom('2026-11-22', '2026-10-01', '2026-12-31', '1900-01-01', '2026-02-30', 'today', '');
const queryArb: fc.Arbitrary<[string, string][]> = fc.array(
  fc.tuple(
    fc.constantFrom('asOf', 'infusionDate', 'patientId', 'series', 'asOf[]', '__proto__', 'constructor'),
    fc.oneof(dateArb, fc.constantFrom('true', 'false', 'fuzz-1-9'), weirdString),
  ),
  { maxLength: 3 },
);

/** Any endpoint, the good data, and 0–4 mutations anywhere (most of them in resources). */
export function caseArb(endpoints: readonly Endpoint[] = ENDPOINTS): fc.Arbitrary<FuzzCase> {
  return fc.constantFrom(...endpoints).chain((endpoint) => {
    const hasOrders = endpoint === 'order-sign' || endpoint === 'order-select';
    return fc.record({
      endpoint: fc.constant(endpoint),
      base: baseArb,
      orders: hasOrders ? ordersArb : fc.constant(undefined),
      feedback: endpoint === 'feedback' ? feedbackArb : fc.constant(undefined),
      query: endpoint === 'assessments' ? queryArb : fc.constant(undefined),
      contentType: contentTypeArb,
      mutations: fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
      truncate: fc.oneof(
        { weight: 19, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
      ),
    });
  });
}

/** What a non-conformant resource looks like: type changes, missing fields, hostile text (no same-type `replace`). */
const badResourceOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: weirdArb.map((value): Op => ({ op: 'replace', value })) },
  { weight: 3, arbitrary: fc.constant<Op>({ op: 'delete' }) },
  { weight: 3, arbitrary: hostileStringArb.map((value): Op => ({ op: 'hostileString', value })) },
  { weight: 3, arbitrary: fc.constant<Op>({ op: 'swapType' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ op: 'wrap' }) },
  { weight: 2, arbitrary: fc.constant<Op>({ op: 'unwrap' }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('protoKey' as const),
      key: fc.constantFrom(...PROTO_WORDS),
      value: weirdArb,
    }),
  },
);

export interface SingleBadCase {
  base: BaseSpec;
  /** Index among the top-level resources of the prefetch (the Patient and every Bundle entry). */
  resource: number;
  ops: { path: number; hot: boolean; op: Op }[];
}

/** A patient-view call where exactly one resource is malformed (1–3 type-changing edits) among good ones. */
export const singleBadResourceArb: fc.Arbitrary<SingleBadCase> = fc.record({
  base: infusedBaseArb,
  resource: fc.nat(),
  ops: fc.array(fc.record({ path: fc.nat(), hot: fc.boolean(), op: badResourceOpArb }), { minLength: 1, maxLength: 3 }),
});

// ---- Building requests ---------------------------------------------------------------------------

export interface BuiltRequest {
  endpoint: Endpoint;
  path: string;
  contentType: string;
  body: string;
  /** What the mutations did, readable (`Observation/x .valueQuantity.unit: replace by …`). */
  changes: string[];
}

function hookInstanceOf(c: { base: BaseSpec; mutations?: unknown[] }): string {
  const n = (c.base.seed * 1_000 + (c.base.day ?? 999)).toString(16).padStart(12, '0');
  return `d1577c69-dfbe-44ad-ba6d-${n}`;
}

function hookBody(endpoint: HookEndpoint, base: BaseSpec, today: string, orders: OrderName[] = []): JsonObject {
  const patientId = patientIdOf(base);
  const context: JsonObject = { userId: 'Practitioner/demo-hematologist', patientId };
  if (endpoint !== 'patient-view') {
    const drafts = orders.map((o) => draftOrder(o, patientId));
    context['draftOrders'] = {
      resourceType: 'Bundle',
      entry: drafts.map((resource) => ({ resource })),
    } as unknown as Json;
    if (endpoint === 'order-select')
      context['selections'] = drafts
        .filter((d) => d.resourceType !== 'NutritionOrder')
        .map((d) => `${d.resourceType}/${d.id ?? ''}`);
  }
  return {
    hook: endpoint,
    hookInstance: hookInstanceOf({ base }),
    context,
    prefetch: fullPrefetch(patientRecord(base, today)) as unknown as Json,
  };
}

/** The clean body of a case (a fresh copy: mutate at will). */
export function cleanBody(c: FuzzCase, today: string): JsonObject {
  switch (c.endpoint) {
    case 'patient-view':
    case 'order-sign':
    case 'order-select':
      return clone(hookBody(c.endpoint, c.base, today, c.orders));
    case 'feedback':
      return {
        feedback: (c.feedback ?? []).map((f) => ({
          card: f.card,
          outcome: f.outcome,
          outcomeTimestamp: '2026-11-22T10:15:00Z',
          ...(f.outcome === 'accepted'
            ? { acceptedSuggestions: [{ id: 'b7a3c1d2-8e5f-4a6b-9c0d-1e2f3a4b5c6d' }] }
            : {}),
          ...(f.outcome === 'overridden'
            ? {
                overrideReason: {
                  reason: {
                    system: 'https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox',
                    code: 'already-treated',
                    display: 'Already treated',
                  },
                  ...(f.comment !== null ? { userComment: f.comment } : {}),
                },
              }
            : {}),
        })),
      };
    case 'assessments': {
      const resources = patientRecord(c.base, today);
      // Every third seed as a transaction writes it: references by the entries' urn:uuid fullUrls.
      const byUrn = c.base.seed % 3 === 0;
      const urn = (reference: string): string => `urn:uuid:${reference.slice(reference.indexOf('/') + 1)}`;
      const bundle = clone({
        resourceType: 'Bundle',
        type: byUrn ? 'transaction' : 'collection',
        entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${resource.id ?? ''}`, resource })),
      } as unknown as Json) as { entry: { resource: Record<string, { reference?: string } | undefined> }[] };
      if (byUrn)
        for (const { resource } of bundle.entry) {
          for (const field of ['subject', 'patient', 'medicationReference']) {
            const ref = resource[field]?.reference;
            if (ref && !ref.startsWith('#')) resource[field] = { reference: urn(ref) };
          }
          // Every sixth seed as a client creates them: no ids, each known only by its fullUrl.
          if (c.base.seed % 6 === 0) delete resource['id'];
        }
      return bundle as unknown as JsonObject;
    }
  }
}

function endpointPath(c: FuzzCase): string {
  switch (c.endpoint) {
    case 'patient-view':
    case 'order-sign':
    case 'order-select':
      return `/cds-services/${SERVICE_IDS[c.endpoint]}`;
    case 'feedback':
      return `/cds-services/${SERVICE_IDS['patient-view']}/feedback`;
    case 'assessments': {
      const params = new URLSearchParams(c.query ?? []);
      const qs = params.toString();
      return `/assessments${qs ? `?${qs}` : ''}`;
    }
  }
}

/** Serializes a body, splicing in the described deep nesting. */
export function serialize(body: Json): string {
  return JSON.stringify(body).replace(DEEP, (_m, depth: string, shape: string) => deepText(Number(depth), shape));
}

/** The request of a case: the clean body, every mutation applied in order, serialized. */
export function buildRequest(c: FuzzCase, today: string): BuiltRequest {
  const body = cleanBody(c, today);
  const root = { body } as JsonObject;
  const sites = findSites(root);
  const changes = c.mutations.flatMap((m) => applyMutation(root, sites, m) ?? []);
  let text = serialize(root['body'] as Json);
  if (c.truncate !== undefined) {
    text = text.slice(0, Math.floor(text.length * c.truncate));
    changes.push(`body cut to ${text.length} characters`);
  }
  return { endpoint: c.endpoint, path: endpointPath(c), contentType: c.contentType, body: text, changes };
}

/** The three patient-view bodies of a single-bad case: intact, without the resource, and with it malformed. */
export function buildSingleBad(
  c: SingleBadCase,
  today: string,
): { intact: string; removed: string; mutated: string; target: string; changes: string[] } {
  const fuzz: FuzzCase = { endpoint: 'patient-view', base: c.base, contentType: 'application/json', mutations: [] };
  const intact = cleanBody(fuzz, today);
  const tops = topLevelResources({ body: intact });
  const at = tops[c.resource % tops.length] as Path;
  const resource = getAt({ body: intact }, at) as JsonObject;
  const target = `${asText(resource['resourceType'])}/${asText(resource['id'])}`;

  const removedRoot = { body: cleanBody(fuzz, today) } as JsonObject;
  removeResource(removedRoot, at);

  const mutatedRoot = { body: cleanBody(fuzz, today) } as JsonObject;
  const changes: string[] = [];
  for (const { path, hot, op } of c.ops) {
    const inside = aim(
      allPaths(getAt(mutatedRoot, at), at, () => true),
      hot,
    );
    const where = inside.length > 0 ? (inside[path % inside.length] as Path) : at;
    if (applyOp(mutatedRoot, where, op, [], true))
      changes.push(`${target} ${pathText(where.slice(at.length))}: ${opText(op)}`);
  }
  return {
    intact: serialize(intact),
    removed: serialize(removedRoot['body'] as Json),
    mutated: serialize(mutatedRoot['body'] as Json),
    target,
    changes,
  };
}

// ---- Tree surgery --------------------------------------------------------------------------------

function clone<T extends Json>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isResource(v: unknown): v is JsonObject {
  return isObject(v) && typeof v['resourceType'] === 'string';
}

function getAt(root: Json, path: Path): Json | undefined {
  let node: Json | undefined = root;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key];
    else if (isObject(node) && Object.prototype.hasOwnProperty.call(node, key)) node = node[String(key)];
    else return undefined;
  }
  return node;
}

/** Own property, even for `__proto__` (an assignment would change the prototype instead). */
function define(obj: JsonObject, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function setAt(root: Json, path: Path, value: Json): boolean {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (key === undefined) return false;
  if (Array.isArray(parent) && typeof key === 'number' && key < parent.length) parent[key] = value;
  else if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, key)) define(parent, String(key), value);
  else return false;
  return true;
}

function deleteAt(root: Json, path: Path): void {
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1];
  if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
  else if (isObject(parent) && key !== undefined) delete parent[String(key)];
}

/** Every path under `node` (prefixed by `prefix`); `descend` decides whether to enter a node. */
function allPaths(
  node: Json | undefined,
  prefix: Path,
  descend: (v: Json, path: Path) => boolean,
  out: Path[] = [],
): Path[] {
  const children: [string | number, Json][] = Array.isArray(node)
    ? node.map((v, i) => [i, v])
    : isObject(node)
      ? Object.keys(node).map((k) => [k, node[k] as Json])
      : [];
  for (const [key, child] of children) {
    const path = [...prefix, key];
    out.push(path);
    if (descend(child, path)) allPaths(child, path, descend, out);
  }
  return out;
}

interface Sites {
  resources: Path[];
  bundles: Path[];
  envelope: Path[];
  all: Path[];
}

/** Where mutations can land, found once in the clean body (so the targets do not move). */
function findSites(root: JsonObject): Sites {
  const sites: Sites = { resources: [], bundles: [], envelope: [], all: [] };
  const walk = (node: Json, path: Path, inResource: boolean): void => {
    const resource = isResource(node);
    if (resource && node['resourceType'] === 'Bundle') sites.bundles.push(path);
    else if (resource) sites.resources.push(path);
    if (!inResource) sites.envelope.push(path);
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        const p = [...path, i];
        sites.all.push(p);
        walk(child, p, inResource || resource);
      });
    } else if (isObject(node)) {
      for (const key of Object.keys(node)) {
        const p = [...path, key];
        sites.all.push(p);
        walk(node[key] as Json, p, inResource || resource);
      }
    }
  };
  walk(root['body'] as Json, ['body'], false);
  sites.envelope.shift(); // not the body itself
  return sites;
}

/** The Patient and every Bundle entry's resource of a hook body's prefetch. */
function topLevelResources(root: JsonObject): Path[] {
  return allPaths(
    root['body'],
    ['body'],
    (v, p) => !isResource(v) || (v['resourceType'] === 'Bundle' && p.length < 4),
  ).filter((p) => {
    const v = getAt(root, p);
    return isResource(v) && v['resourceType'] !== 'Bundle' && p[1] === 'prefetch';
  });
}

function removeResource(root: JsonObject, at: Path): void {
  if (at[at.length - 1] === 'resource' && at[at.length - 3] === 'entry') deleteAt(root, at.slice(0, -1));
  else setAt(root, at, null);
}

function bundleSitePaths(root: JsonObject, bundle: Path): Path[] {
  const b = getAt(root, bundle);
  return allPaths(b, bundle, (_v, p) => p.length - bundle.length < 3 && p[bundle.length] === 'entry');
}

function applyMutation(root: JsonObject, sites: Sites, m: Mutation): string | undefined {
  const pick = <T>(list: T[], i: number): T | undefined => (list.length > 0 ? list[i % list.length] : undefined);
  let path: Path | undefined;
  let label = 'body';
  let base: Path = [];
  switch (m.target) {
    case 'resource': {
      const at = pick(sites.resources, m.index);
      if (!at) return undefined;
      const r = getAt(root, at);
      label = isObject(r) ? `${asText(r['resourceType'])}/${asText(r['id'])}` : pathText(at.slice(1));
      base = at;
      path =
        pick(
          aim(
            allPaths(r, at, () => true),
            m.hot,
          ),
          m.path,
        ) ?? at;
      break;
    }
    case 'bundle': {
      const at = pick(sites.bundles, m.index);
      if (!at) return undefined;
      label = `Bundle at ${pathText(at.slice(1))}`;
      base = at;
      path = pick(bundleSitePaths(root, at), m.path) ?? at;
      break;
    }
    case 'envelope':
      path = pick(sites.envelope, m.path);
      break;
    case 'body':
      path = pick(m.hot ? aim(sites.all, true) : sites.all, m.path);
      break;
  }
  if (!path || !applyOp(root, path, m.op, sites.resources, false)) return undefined;
  return `${label} ${pathText(base.length > 0 ? path.slice(base.length) : path.slice(1))}: ${opText(m.op)}`;
}

function asText(v: Json | undefined): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined');
}

/** The hot paths when asked for and there are any, else all of them. */
function aim(paths: Path[], hot: boolean): Path[] {
  if (!hot) return paths;
  const hits = paths.filter(isHot);
  return hits.length > 0 ? hits : paths;
}

function pathText(path: Path): string {
  return path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('') || '(itself)';
}

function weirdText(w: Weird): string {
  switch (w.t) {
    case 'huge':
      return `a ${w.length}-character string of ${JSON.stringify(w.unit)}`;
    case 'deep':
      return `${w.shape}s nested ${w.depth} deep`;
    case 'proto':
      return 'an object with own __proto__/constructor/toString keys';
    case 'object':
      return '{}';
    case 'array':
      return '[]';
    case 'null':
      return 'null';
    default:
      return JSON.stringify(w.v).slice(0, 60);
  }
}

function opText(op: Op): string {
  switch (op.op) {
    case 'replace':
      return `replaced by ${weirdText(op.value)}`;
    case 'protoKey':
      return `own key ${op.key} = ${weirdText(op.value)}`;
    case 'repeat':
      return `array grown by ${op.times} copies of its first element`;
    case 'resourceType':
      return `resourceType = ${JSON.stringify(op.value)}`;
    case 'hostileString':
      return `text replaced by ${JSON.stringify(op.value).slice(0, 60)}`;
    default:
      return op.op;
  }
}

function swapType(v: Json | undefined): Json {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v.length;
  if (typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  return Object.values(v);
}

/** Applies `op` at `path` (skipped when an earlier mutation removed the place). */
function applyOp(root: JsonObject, path: Path, op: Op, resources: Path[], typeChangingOnly: boolean): boolean {
  const current = getAt(root, path);
  if (current === undefined) return false;
  if (op.op === 'hostileString' && typeof current !== 'string') return false;
  applyAt(root, path, current, op, resources, typeChangingOnly);
  return true;
}

function applyAt(
  root: JsonObject,
  path: Path,
  current: Json,
  op: Op,
  resources: Path[],
  typeChangingOnly: boolean,
): void {
  switch (op.op) {
    case 'replace': {
      const sameType = weirdType(op.value) === jsonType(current);
      setAt(root, path, typeChangingOnly && sameType ? swapType(current) : materialize(op.value));
      return;
    }
    case 'delete':
      deleteAt(root, path);
      return;
    case 'hostileString':
      setAt(root, path, op.value);
      return;
    case 'swapType':
      setAt(root, path, swapType(current));
      return;
    case 'wrap':
      setAt(root, path, [current]);
      return;
    case 'unwrap':
      if (Array.isArray(current)) setAt(root, path, current[0] ?? null);
      else if (isObject(current)) setAt(root, path, Object.values(current)[0] ?? null);
      else setAt(root, path, typeChangingOnly ? { value: current } : current);
      return;
    case 'repeat': {
      // The nearest array at or above `path` grows by copies of its first element.
      for (let i = path.length; i >= 0; i--) {
        const node = getAt(root, path.slice(0, i));
        if (Array.isArray(node) && node.length > 0) {
          for (let k = 0; k < op.times; k++) node.push(node[0] as Json);
          return;
        }
      }
      return;
    }
    case 'protoKey': {
      for (let i = path.length; i >= 0; i--) {
        const node = getAt(root, path.slice(0, i));
        if (isObject(node)) {
          define(node, op.key, materialize(op.value));
          return;
        }
      }
      return;
    }
    case 'resourceType':
    case 'duplicateId': {
      for (let i = path.length; i >= 1; i--) {
        const node = getAt(root, path.slice(0, i));
        if (!isResource(node) && !(isObject(node) && 'resourceType' in node)) continue;
        if (op.op === 'resourceType') define(node, 'resourceType', op.value);
        else {
          const other = resources
            .map((p) => getAt(root, p))
            .find((r) => isResource(r) && r !== node && typeof r['id'] === 'string');
          if (other && isObject(other)) define(node, 'id', other['id'] as Json);
        }
        return;
      }
      return;
    }
  }
}

/**
 * Where a logged error was thrown: the first two stack frames in our code (`src/…`, `cds-services/…`),
 * or the first two frames when none is ours, as `file:line:col < file:line:col`.
 */
export function crashSite(stack: string | undefined): string {
  const all = (stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  const ours = all.filter((l) => /\/(src|cds-services)\//.test(l));
  return (ours.length > 0 ? ours : all)
    .slice(0, 2)
    .map((l) =>
      l
        .trim()
        .replace(/^at /, '')
        .replace(/\(?[^\s(]*?\/((?:src|cds-services)\/)/, '$1')
        .replace(/\)$/, ''),
    )
    .join(' < ');
}
