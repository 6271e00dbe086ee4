/**
 * Which codes mean what: FHIR ValueSets from `fhir-profiles/` (one per role) plus local codes a
 * hospital adds by configuration, compiled into one `system|code → role` lookup.
 *
 * Pure: the caller reads the files (server) or bundles them (SMART app) and passes them in.
 */
import type { CodeableConcept, Coding, ValueSet } from 'fhir/r4.js';

/** Every role the engine matches codes for; each is the id of a ValueSet in fhir-profiles/. */
export const ROLES = [
  'anc',
  'platelets',
  'hemoglobin',
  'wbc',
  'lymphocytes',
  'igg',
  'iga',
  'igm',
  'cd19',
  'cd4',
  'cd8',
  'cd4-cd8-ratio',
  'ferritin',
  'crp',
  'il6',
  'il10',
  'ifn-gamma',
  'd-dimer',
  'fibrinogen',
  'ldh',
  'body-temperature',
  'crs-grade-observation',
  'car-t-product',
  'car-t-infusion-procedure',
  'tocilizumab',
  'corticosteroid',
  'g-csf',
  'lymphodepletion',
  'ivig',
  'red-cell-transfusion',
  'platelet-transfusion',
  'transfusion-unspecified',
  'irradiated-blood-product',
  'crs-condition',
  'allogeneic-hsct-history',
  'allogeneic-hsct-procedure',
  'leukapheresis',
  'marrow-evaluation',
  'body-weight',
] as const;
export type Role = (typeof ROLES)[number];

export const LOCAL_SYSTEM = 'https://cart-hematotox-cds.example.org/fhir/CodeSystem/cart-hematotox';

export interface CodeInfo {
  role: Role;
  /** CAR-T product name (designation `product`) where the code says which product. */
  product?: string;
  /** CRS grade (designation `crs-grade`) where the code carries it. */
  crsGrade?: number;
  /** A long-acting G-CSF (designation `long-acting`: pegfilgrastim and its biosimilars). */
  longActing?: true;
  display?: string;
}

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
/** RxNorm term types whose name is an ingredient or a brand (a name a prescriber writes). */
const NAME_TTYS = new Set(['IN', 'PIN', 'BN']);
/** Routes and forms that are not systemic: a dexamethasone eye drop is not CRS treatment. */
const NON_SYSTEMIC_WORDS = [
  'ophthalmic',
  'otic',
  'topical',
  'cream',
  'ointment',
  'lotion',
  'gel',
  'drops?',
  'eye',
  'ear',
  'inhal\\w*',
  'nasal',
  'rectal',
  'enema',
  'foam',
  'shampoo',
  'dental',
  'paste',
  'intravitreal',
  'implant',
];
const NON_SYSTEMIC = new RegExp(`\\b(${NON_SYSTEMIC_WORDS.join('|')})\\b`, 'i');

/** The name a concept contributes to name matching, lower case; undefined when it has none. */
function matchableName(system: string, display: string | undefined, tty: string | undefined): string | undefined {
  if (!display) return undefined;
  if (tty ? NAME_TTYS.has(tty) : system === RXNORM && !/\d/.test(display)) return display.toLowerCase();
  return undefined;
}

function standsAsWord(text: string, name: string): boolean {
  let from = 0;
  for (;;) {
    const at = text.indexOf(name, from);
    if (at < 0) return false;
    const before = at === 0 ? '' : (text[at - 1] ?? '');
    const after = text[at + name.length] ?? '';
    if (!/[a-z0-9]/.test(before) && !/[a-z0-9]/.test(after)) return true;
    from = at + 1;
  }
}

export interface LocalCode {
  system: string;
  code: string;
  display?: string;
  product?: string;
  longActing?: boolean;
}

export type LocalCodes = Partial<Record<Role, LocalCode[]>>;

export interface Terminology {
  /** Roles of one coding (a code may belong to several roles). */
  lookup(system: string | undefined, code: string | undefined): CodeInfo[];
  /** First matching code info among the codings of a concept for one of `roles`. */
  match(concept: CodeableConcept | undefined, roles: readonly Role[]): CodeInfo | undefined;
  /**
   * When no coding matches: the first of `roles` whose ingredient or brand name stands as a word in
   * the concept's `text` or a coding's `display` (EHRs send local product codes with a readable
   * name). Products for a non-systemic route (eye drops, creams, inhalers…) never match.
   */
  matchName(concept: CodeableConcept | undefined, roles: readonly Role[]): CodeInfo | undefined;
  /** The codes of a role, for prefetch templates (`system|code`). */
  codesOf(role: Role): Coding[];
  readonly size: number;
}

const roleSets = new WeakMap<readonly Role[], ReadonlySet<Role>>();
/** The roles of a (usually constant) list as a Set, built once per list. */
function roleSet(roles: readonly Role[]): ReadonlySet<Role> {
  let set = roleSets.get(roles);
  if (!set) {
    set = new Set(roles);
    roleSets.set(roles, set);
  }
  return set;
}

function isRole(id: string | undefined): id is Role {
  return (ROLES as readonly string[]).includes(id ?? '');
}

interface TerminologyIndex {
  /** Code infos by system, then code. */
  bySystem: Map<string, Map<string, CodeInfo[]>>;
  /** The codes of each role, in the order added. */
  byRole: Map<Role, Coding[]>;
  /** Matchable ingredient and brand names of each role. */
  names: Map<Role, Set<string>>;
  /** The names among them that are long-acting (pegfilgrastim). */
  longActingNames: Set<string>;
  /** Distinct system|code pairs. */
  size: number;
}

/** Indexes the codes of the ValueSets whose id is a role, then the local codes. */
/** HL7 OIDs of the code systems the ValueSets use (https://hl7.org/fhir/R4/namingsystem-terminologies.html). */
const SYSTEM_OIDS: readonly [string, string][] = [
  ['urn:oid:2.16.840.1.113883.6.1', 'http://loinc.org'],
  ['urn:oid:2.16.840.1.113883.6.96', 'http://snomed.info/sct'],
  ['urn:oid:2.16.840.1.113883.6.88', RXNORM],
  ['urn:oid:2.16.840.1.113883.6.12', 'http://www.ama-assn.org/go/cpt'],
  ['urn:oid:2.16.840.1.113883.6.69', 'http://hl7.org/fhir/sid/ndc'],
];

function indexTerminology(valueSets: readonly ValueSet[], localCodes: LocalCodes): TerminologyIndex {
  const bySystem = new Map<string, Map<string, CodeInfo[]>>();
  const byRole = new Map<Role, Coding[]>();
  const names = new Map<Role, Set<string>>();
  const longActingNames = new Set<string>();
  let size = 0;
  const add = (system: string, code: string, info: CodeInfo): void => {
    let codes = bySystem.get(system);
    if (!codes) {
      codes = new Map();
      bySystem.set(system, codes);
    }
    const list = codes.get(code) ?? [];
    if (list.length === 0) size++;
    if (!list.some((i) => i.role === info.role)) list.push(info);
    codes.set(code, list);
    const roleCodes = byRole.get(info.role) ?? [];
    roleCodes.push({ system, code, ...(info.display ? { display: info.display } : {}) });
    byRole.set(info.role, roleCodes);
  };
  for (const vs of valueSets) {
    if (!isRole(vs.id)) continue;
    for (const include of vs.compose?.include ?? []) {
      if (!include.system) continue;
      for (const concept of include.concept ?? []) {
        const product = concept.designation?.find((d) => d.use?.code === 'product')?.value;
        const grade = concept.designation?.find((d) => d.use?.code === 'crs-grade')?.value;
        const longActing = concept.designation?.some((d) => d.use?.code === 'long-acting' && d.value === 'true');
        const name = matchableName(
          include.system,
          concept.display,
          concept.designation?.find((d) => d.use?.code === 'tty')?.value,
        );
        // Brand names of the ingredient's products (designation `brand-name`): matched like it, with its long action.
        const brands = (concept.designation ?? []).flatMap((d) =>
          d.use?.code === 'brand-name' && d.value ? [d.value.toLowerCase()] : [],
        );
        for (const n of name ? [name, ...brands] : brands) {
          names.set(vs.id, (names.get(vs.id) ?? new Set()).add(n));
          if (longActing) longActingNames.add(n);
        }
        add(include.system, concept.code, {
          role: vs.id,
          ...(concept.display ? { display: concept.display } : {}),
          ...(product ? { product } : {}),
          ...(grade ? { crsGrade: Number(grade) } : {}),
          ...(longActing ? { longActing: true as const } : {}),
        });
      }
    }
  }
  for (const [role, codes] of Object.entries(localCodes) as [Role, LocalCode[]][]) {
    for (const c of codes)
      add(c.system, c.code, {
        role,
        ...(c.display ? { display: c.display } : {}),
        ...(c.product ? { product: c.product } : {}),
        ...(c.longActing ? { longActing: true as const } : {}),
      });
  }
  // The same code systems named by their HL7 OIDs, as data converted from C-CDA or HL7 v2 often
  // names them (FHIR R4 NamingSystem "terminologies": urn:oid:2.16.840.1.113883.6.1 is LOINC).
  for (const [oid, uri] of SYSTEM_OIDS) {
    const codes = bySystem.get(uri);
    if (codes && !bySystem.has(oid)) bySystem.set(oid, codes);
  }
  return { bySystem, byRole, names, longActingNames, size };
}

/** Builds the lookup. ValueSets whose id is not a role are ignored; local codes are appended. */
export function buildTerminology(valueSets: readonly ValueSet[], localCodes: LocalCodes = {}): Terminology {
  const { bySystem, byRole, names, longActingNames, size } = indexTerminology(valueSets, localCodes);
  const find = (system: string | undefined, code: string | undefined): CodeInfo[] | undefined =>
    system && code ? bySystem.get(system)?.get(code) : undefined;
  // The roles' Set of the last call: callers pass one constant list per loop (one call per Observation).
  let lastRoles: readonly Role[] | undefined;
  let lastWanted: ReadonlySet<Role> = new Set();
  return {
    lookup: (system, code) => find(system, code) ?? [],
    match(concept, roles) {
      const codings = concept?.coding;
      if (!codings) return undefined;
      if (roles !== lastRoles) {
        lastWanted = roleSet(roles);
        lastRoles = roles;
      }
      const wanted = lastWanted;
      for (const coding of codings) {
        const infos = find(coding.system, coding.code);
        if (!infos) continue;
        for (const info of infos) if (wanted.has(info.role)) return info;
      }
      return undefined;
    },
    matchName(concept, roles) {
      const texts = [concept?.text, ...(concept?.coding ?? []).map((c) => c.display)].filter(
        (t): t is string => typeof t === 'string' && t.length > 0,
      );
      for (const raw of texts) {
        const text = raw.toLowerCase();
        if (NON_SYSTEMIC.test(text)) continue;
        for (const role of roles) {
          for (const name of names.get(role) ?? [])
            if (standsAsWord(text, name))
              return { role, display: name, ...(longActingNames.has(name) ? { longActing: true as const } : {}) };
        }
      }
      return undefined;
    },
    codesOf: (role) => byRole.get(role) ?? [],
    get size() {
      return size;
    },
  };
}
