/**
 * order-select / order-sign cards from draft orders for a patient after CAR-T:
 *  - tocilizumab or a corticosteroid → info: the published associations with cytopenia (r/r B-ALL
 *    immune-reconstitution thesis; Wang et al., Front Oncol 2021), the current
 *    counts, a CBC monitoring suggestion. Never a card that blocks CRS treatment.
 *  - a red cell or platelet transfusion between day −7 and +90 that is not irradiated → warning
 *    with a suggestion that updates the order to an irradiated product (EHA/EBMT 2023).
 *  - G-CSF with ANC above the threshold and no high-risk indication → info.
 */
import type { CodeableConcept, MedicationRequest, ServiceRequest } from 'fhir/r4.js';
import type { Card } from '../cds-hooks/schemas.js';
import type { Role, Terminology } from '../clinical/terminology.js';
import type { HospitalThresholds } from '../clinical/thresholds.js';
import { SOURCES } from '../clinical/thresholds.js';
import { atOrAbove } from '../clinical/bounds.js';
import { irradiationNote } from '../clinical/format.js';
import type { Assessment, AssessmentIssue } from '../clinical/types.js';
import { oneLine, recordText } from '../clinical/record-text.js';
import {
  baseCard,
  citation,
  countsTable,
  dayLabel,
  earlyGrade,
  fmt,
  hematotoxText,
  stableUuid,
  unreadInfusionList,
  unreadInfusions,
  valueWithUnit,
  withUnreadDataNote,
  type CardContext,
} from './common.js';
import { mdText } from './markdown.js';
import { createSuggestion, serviceRequest, updateSuggestion } from './suggestions.js';
import { DEFAULT_ORDERABLES } from './orderables.js';

export type DraftOrder = MedicationRequest | ServiceRequest;

const CRS_DRUGS: readonly Role[] = ['tocilizumab', 'corticosteroid'];
const GCSF: readonly Role[] = ['g-csf'];
const TRANSFUSIONS: readonly Role[] = ['red-cell-transfusion', 'platelet-transfusion', 'transfusion-unspecified'];
const IRRADIATION: readonly Role[] = ['irradiated-blood-product'];

/** A draft order this service advises on: what it is, and how it was recognised. */
export interface AdvisableOrder {
  order: DraftOrder;
  role: Role;
  /** `code`: a coding is in our value sets; `name`: the ingredient or brand name in its text. */
  matchedBy: 'code' | 'name';
}

const MEDICATION_ROLES: readonly Role[] = [...CRS_DRUGS, ...GCSF];

/**
 * Whether this service advises on `order`: a CRS drug or G-CSF (by the medication's codes, else
 * by name), or a blood product (by code). `medication` is the order's medication concept, already
 * resolved from `medicationCodeableConcept` or the Medication its reference points at.
 */
export function adviseOn(
  order: DraftOrder,
  medication: CodeableConcept | undefined,
  terminology: Terminology,
): AdvisableOrder | undefined {
  if (order.resourceType === 'MedicationRequest') {
    const byCode = terminology.match(medication, MEDICATION_ROLES);
    if (byCode) return { order, role: byCode.role, matchedBy: 'code' };
    const named: CodeableConcept = {
      ...(medication ?? {}),
      coding: [
        ...(medication?.coding ?? []),
        ...(order.medicationReference?.display ? [{ display: order.medicationReference.display }] : []),
      ],
    };
    const byName = terminology.matchName(named, MEDICATION_ROLES);
    return byName ? { order, role: byName.role, matchedBy: 'name' } : undefined;
  }
  const transfusion = terminology.match(order.code, TRANSFUSIONS);
  if (transfusion) return { order, role: transfusion.role, matchedBy: 'code' };
  const named = transfusionNamed(order.code);
  return named ? { order, role: named, matchedBy: 'name' } : undefined;
}

/** Cellular blood products, the ones to irradiate (EHA/EBMT 2023), as order texts name them. */
const PLATELETS = /\b(?:platelets?|plts?|thrombocytes?)\b/i;
const RED_CELLS = /\b(?:red\s{1,3}(?:blood\s{1,3})?cells?|p?rbcs?|erythrocytes?|packed\s{1,3}cells)\b/i;
const OTHER_CELLULAR = /\b(?:whole\s{1,3}blood|granulocytes?)\b/i;
/** Words of a blood product order ("1 unit", "apheresis", "pooled", "leukoreduced") rather than of a lab test. */
const PRODUCT_WORDS =
  /\b(?:transfus\w{0,8}|units?|apheresis|pooled|doses?|bags?|packs?|concentrates?|components?|leu[ck]o[-\s]?(?:reduced|depleted)|irradiat\w{0,8}|crossmatch\w{0,4}|cross-match\w{0,4})\b/i;
/** Words of a lab test or of an order about a transfusion that is not one ("platelet count", "transfusion reaction"). */
const NOT_A_PRODUCT =
  /\b(?:counts?|levels?|sedimentation|folate|antibod\w{0,4}|function|aggregation|morpholog\w{0,4}|smear|indices|distribution|volume|mean|assay|reaction|consent|history)\b/i;

/**
 * The transfusion a blood product order names in its text or codings' displays, when its codes are not
 * ours: a local code with "Platelets, apheresis, 1 unit", or text only ("Transfuse 1 unit platelets").
 * Drugs are matched by name too; blood products were matched by code only, so such an order got no
 * irradiation check at all. A cellular product needs a word of a product order beside it, so that a
 * lab test ("Platelet count", "RBC folate") is not taken for one; bounded repeats only (linear time).
 */
export function transfusionNamed(code: CodeableConcept | undefined): Role | undefined {
  for (const text of conceptTexts(code)) {
    if (typeof text !== 'string' || NOT_A_PRODUCT.test(text) || !PRODUCT_WORDS.test(text)) continue;
    if (PLATELETS.test(text)) return 'platelet-transfusion';
    if (RED_CELLS.test(text)) return 'red-cell-transfusion';
    if (OTHER_CELLULAR.test(text) || /\btransfus/i.test(text)) return 'transfusion-unspecified';
  }
  return undefined;
}

/**
 * Words that say a blood product is not to be irradiated: "non-irradiated", "unirradiated", "not
 * irradiated", "no irradiation", "do not irradiate", "without irradiation", "irradiation not
 * required", "irradiated: no". Such a text never counts as irradiated, whatever else the order says.
 */
const NOT_IRRADIATED = [
  /\b(?:non|un)[-\s]?irradiat/i,
  /\b(?:no|not|without|never|avoid|omit|skip|don'?t|do\s+not|need\s+not)\s+(?:\w+\s+){0,2}irradiat/i,
  // An answer after the word, at most three more words on. "Not required" (needed, necessary, applicable),
  // "unnecessary", "none required" whatever follows ("Irradiation not required per protocol"). A bare no,
  // n, false or none only after a separator (":", "-", "–", "?", "[", "/", ","…) and before the end of the
  // line or one ("Irradiated product: No", "Irradiated: No - standard product", "Irradiated [No]"): "Irradiated
  // - no CMV requirement" or "lot no. 4411" are not answers. Bounded repeats: linear time.
  /irradiat\w{0,12}(?:[^\S\n]{1,8}[a-z]{1,20}){0,3}?(?:[\s:=?()[\]\-–—,;./：]{0,8}\b(?:not\s{1,4}(?:required|needed|necessary|indicated|wanted|requested|applicable)|unnecessary|none\s{1,4}required)\b|[^\S\n]{0,4}[:=?()[\]\-–—,;./：][\s:=?()[\]\-–—,;./：]{0,7}\b(?:no|n|false|none)\b(?=[^\S\n]{0,8}(?:$|[\n.,;:)\]/\-–—(!])))/i,
  // After a colon or an equals sign, "no" is the answer whatever follows it ("Irradiated: No standard stock").
  /irradiat\w{0,12}(?:[^\S\n]{1,8}[a-z]{1,20}){0,3}?[^\S\n]{0,4}[:=：][^\S\n]{0,4}(?:no|n|false|none)\b/i,
  // An unticked box after the word: "Irradiated: [ ]", "Irradiated ☐".
  /irradiat\w{0,12}[^\S\n]{0,4}[:=：]?[^\S\n]{0,4}(?:\[[^\S\n]?\]|☐|□)/i,
];

export const saysNotIrradiated = (text: string): boolean => NOT_IRRADIATED.some((re) => re.test(text));

/** A concept's text and its codings' displays. */
const conceptTexts = (c: CodeableConcept | undefined): unknown[] => [
  c?.text,
  ...(c?.coding?.map((x) => x.display) ?? []),
];

/** The texts of an order that may speak of irradiation: code and detail texts and displays, and notes. */
function orderTexts(order: ServiceRequest): string[] {
  return [
    ...[order.code, ...(order.orderDetail ?? [])].flatMap(conceptTexts),
    ...(order.note ?? []).map((n) => n.text),
  ].filter((t): t is string => typeof t === 'string');
}

/**
 * Whether a blood product order asks for an irradiated product: coded so (the
 * `irradiated-blood-product` ValueSet) or said so in its text, a free-text modifier many EHRs use.
 * A text that says it is not to be irradiated ("Non-irradiated") makes it not irradiated: a match on
 * the word alone took "Non-irradiated" for irradiated and left the warning out.
 */
function isIrradiated(order: ServiceRequest, terminology: Terminology): boolean {
  const texts = orderTexts(order);
  if (texts.some(saysNotIrradiated)) return false;
  const concepts = [order.code, ...(order.orderDetail ?? [])];
  if (concepts.some((c) => terminology.match(c, IRRADIATION))) return true;
  return texts.some((t) => /irradiat/i.test(t));
}

export function orderCards(
  a: Assessment,
  orders: readonly AdvisableOrder[],
  terminology: Terminology,
  thresholds: HospitalThresholds,
  ctx: CardContext,
  unreadOrders: readonly AssessmentIssue[] = [],
): Card[] {
  const day = a.dayPostInfusion;
  if (day === null) {
    const unread = unreadInfusions(a, terminology);
    if (unread.length > 0)
      return orders.length > 0 || unreadOrders.length > 0
        ? [ordersWithoutDayZeroCard(a, unread, orders, unreadOrders, ctx)]
        : [];
    // No infusion recorded yet: a recorded CAR-T leukapheresis opens the irradiation window all the same
    // (EHA/EBMT 2023: from 7 days before it). The cytopenia advice waits for day 0.
    if (!a.irradiation?.required) return [];
    const cards = unreadOrders.length > 0 ? [unreadOrdersCard(a, unreadOrders, ctx, thresholds)] : [];
    for (const { order, role, matchedBy } of orders)
      if (order.resourceType === 'ServiceRequest' && !isIrradiated(order, terminology))
        cards.push(irradiationCard(a, order, role, matchedBy, ctx, thresholds));
    return withUnreadDataNote(cards, a);
  }
  if (day > thresholds.values.actions.followUpDays) return [];
  const t = thresholds.values;
  const cards: Card[] = unreadOrders.length > 0 ? [unreadOrdersCard(a, unreadOrders, ctx, thresholds)] : [];
  for (const { order, role, matchedBy } of orders) {
    const orderRef = `${order.resourceType}/${order.id ?? ''}`;
    if (order.resourceType === 'MedicationRequest') {
      if (CRS_DRUGS.includes(role))
        cards.push(crsDrugCard(a, order, role === 'tocilizumab' ? 'Tocilizumab' : 'Corticosteroid', matchedBy, ctx));
      if (role === 'g-csf') {
        const anc = a.latest.anc;
        const fresh = anc && day - (anc.day ?? day) <= t.actions.maxLabAgeDays;
        const indication =
          a.hematotox.risk === 'high' ||
          (a.icaht.early.grade ?? 0) >= t.actions.workupIcahtGrade ||
          a.severeCytopenias.some((e) => e.lineage === 'neutrophil' && e.ongoing);
        const cutoff = t.counts.neutrophils.severe;
        if (anc && fresh && atOrAbove(anc, cutoff) && !indication) {
          const uuid = stableUuid(ctx.serviceId, ctx.patientId, orderRef, 'g-csf-without-indication', anc.reference);
          const detail = [
            `**Why:** G-CSF is ordered on ${dayLabel(day)} while the latest ANC is ${valueWithUnit(anc)} (${anc.date}), not below ${fmt(cutoff)} ×10⁹/L, and the data show no high-risk indication: ${hematotoxText(a)}, early ICAHT grade ${earlyGrade(a.icaht.early)}.` +
              (a.hematotox.risk === null || !a.icaht.early.complete || a.icaht.early.atLeast
                ? ' An indication they do not show may still hold (baseline values not measured, days without an ANC).'
                : ''),
            `**Threshold in force:** ANC < ${fmt(cutoff)} ×10⁹/L (${thresholds.overridden.has('counts.neutrophils.severe') ? 'hospital setting' : 'default'}; ${SOURCES.ehaEbmt.label}). Prophylactic G-CSF is for high CAR-HEMATOTOX from day +${t.actions.gcsfProphylaxisStartDay}.`,
            `Current counts:\n\n${countsTable(a, ['neutrophils', 'platelets', 'hemoglobin'])}`,
          ].join('\n\n');
          cards.push(
            baseCard(
              'g-csf-without-indication',
              uuid,
              `G-CSF ordered with ANC ${valueWithUnit(anc)} on ${dayLabel(anc.day)} (not below ${fmt(cutoff)})`,
              'info',
              detail,
              SOURCES.ehaEbmt,
              ctx,
            ),
          );
        }
      }
      continue;
    }
    if (a.irradiation?.required && !isIrradiated(order, terminology))
      cards.push(irradiationCard(a, order, role, matchedBy, ctx, thresholds));
  }
  return withUnreadDataNote(cards, a);
}

function crsDrugCard(
  a: Assessment,
  order: MedicationRequest,
  drug: string,
  matchedBy: AdvisableOrder['matchedBy'],
  ctx: CardContext,
): Card {
  const uuid = stableUuid(
    ctx.serviceId,
    ctx.patientId,
    `MedicationRequest/${order.id ?? ''}`,
    'crs-treatment-cytopenia-risk',
    a.asOf,
  );
  const named = order.medicationCodeableConcept?.text ?? order.medicationReference?.display;
  const detail = [
    `**${drug} ordered on ${dayLabel(a.dayPostInfusion)} after CAR-T.** Treat CRS as indicated: this card does not advise against it. Watch the blood counts:`,
    ...(matchedBy === 'name'
      ? [
          `_Recognised as ${drug.toLowerCase()} by name${named ? ` ("${mdText(recordText(named, 120))}")` : ''}: the order's codes are not among the codes this service knows._`,
        ]
      : []),
    '- Tocilizumab or corticosteroid use was associated with grade ≥3 thrombocytopenia within 28 days (univariate; single-centre B-ALL cohort of 52 patients).',
    '- Tocilizumab/corticosteroid use was an independent risk factor for delayed recovery from severe neutropenia (HR 0.36; Wang et al., Front Oncol 2021).',
    `Current counts:\n\n${countsTable(a, ['neutrophils', 'platelets', 'hemoglobin'])}`,
    // Clinical spec §8: "seeds 000, 002": the first bullet is the thesis's, the second Wang's.
    `**Sources:** ${citation(SOURCES.seed000)}; ${citation(SOURCES.seed002)}.`,
  ].join('\n\n');
  const card = baseCard(
    'crs-treatment-cytopenia-risk',
    uuid,
    `${drug} after CAR-T (${dayLabel(a.dayPostInfusion)}): monitor blood counts, linked to cytopenia`,
    'info',
    detail,
    SOURCES.seed002,
    ctx,
  );
  return {
    ...card,
    suggestions: [
      createSuggestion(
        stableUuid(uuid, 'suggestion', 1),
        'Daily CBC with differential (draft)',
        'Create a draft order for a complete blood count with differential',
        serviceRequest(
          ctx.patientId,
          (ctx.orderables ?? DEFAULT_ORDERABLES).cbc,
          `${drug} after CAR-T: cytopenia risk (Wang et al., Front Oncol 2021)`,
          [],
        ),
      ),
    ],
    selectionBehavior: 'at-most-one',
  };
}

/**
 * Draft orders left out because they could not be read (an element of the wrong shape, nested too
 * deep, an id that is not a FHIR id): they were not checked, and silence would read as "nothing to
 * say". A warning while blood products must be irradiated (one of them may be a transfusion),
 * else information. The records and why are listed; the orders themselves cannot be echoed.
 */
function unreadOrdersCard(
  a: Assessment,
  unread: readonly AssessmentIssue[],
  ctx: CardContext,
  thresholds: HospitalThresholds,
): Card {
  const n = unread.length;
  const listed = unread.slice(0, 5).map((i) => `- ${mdText(i.resource ?? 'Draft order')}: ${mdText(whyNotChecked(i))}`);
  if (n > 5) listed.push(`- and ${n - 5} more`);
  const irradiate = a.irradiation?.required === true;
  const cytopenia = 'the cytopenia advice on tocilizumab, corticosteroids and G-CSF';
  const checks = !irradiate
    ? cytopenia
    : a.dayPostInfusion === null
      ? 'whether a blood product is irradiated'
      : `whether a blood product is irradiated, nor for ${cytopenia}`;
  const orders = n === 1 ? 'A draft order was' : `${n} draft orders were`;
  const detail = [
    `**Why:** ${orders} not checked for ${checks}, ${orderTime(a)}:`,
    listed.join('\n'),
    ...(irradiate ? [`**Recommendation in force:** ${irradiationNote(a.irradiation, thresholds.values)}`] : []),
    'Check these orders by hand.',
  ].join('\n\n');
  const uuid = stableUuid(ctx.serviceId, ctx.patientId, 'unread-draft-orders', ...unread.map((i) => i.resource));
  return baseCard(
    'unread-draft-orders',
    uuid,
    `${orders} not checked for CAR-T advice (${a.dayPostInfusion === null ? 'before the CAR-T infusion' : `${dayLabel(a.dayPostInfusion)} after CAR-T`})`,
    irradiate ? 'warning' : 'info',
    detail,
    SOURCES.ehaEbmt,
    ctx,
  );
}

/** Why a draft order was not checked, from its issue: "could not be read (element: why)", "is for another patient"… */
function whyNotChecked(issue: AssessmentIssue): string {
  const why = issue.message.replace(/^draft order /, '').replace(/; (resource left out|left out|not checked)$/, '');
  return issue.code === 'resource-invalid' ? `could not be read (${why})` : why;
}

/**
 * The orders of this call that the service advises on, or could not check, when a record coded as
 * the CAR-T infusion could not be read (no day 0): whether blood products must be irradiated, and
 * the cytopenia advice, cannot be worked out. Without this card the orders would pass in silence,
 * as for a patient never treated.
 */
function ordersWithoutDayZeroCard(
  a: Assessment,
  unread: readonly AssessmentIssue[],
  orders: readonly AdvisableOrder[],
  unreadOrders: readonly AssessmentIssue[],
  ctx: CardContext,
): Card {
  const named = [
    ...orders.map(
      ({ order }) => `- ${mdText(`${order.resourceType}/${order.id ?? '(no id)'}`)}: ${mdText(orderName(order))}`,
    ),
    ...unreadOrders.map((i) => `- ${mdText(i.resource ?? 'Draft order')}: ${mdText(whyNotChecked(i))}`),
  ];
  const listed = named.length > 5 ? [...named.slice(0, 5), `- and ${named.length - 5} more`] : named;
  const n = named.length;
  const these = n === 1 ? 'This order was' : `These ${n} orders were`;
  const detail = [
    `**Why:** this record holds a CAR-T infusion that could not be read, so day 0 is not known. ${these} not checked for whether a blood product must be irradiated, nor for the cytopenia advice on tocilizumab, corticosteroids and G-CSF:`,
    listed.join('\n'),
    `The infusion record${unread.length === 1 ? '' : 's'}:`,
    unreadInfusionList(unread),
    'Check the infusion in the chart, and these orders by hand (blood products after CAR-T are irradiated).',
  ].join('\n\n');
  const uuid = stableUuid(
    ctx.serviceId,
    ctx.patientId,
    'unread-infusion',
    ...unread.map((i) => i.resource),
    ...orders.map(({ order }) => `${order.resourceType}/${order.id ?? ''}`),
    ...unreadOrders.map((i) => i.resource),
    a.asOf,
  );
  return baseCard(
    'unread-infusion',
    uuid,
    `CAR-T infusion record could not be read: ${n === 1 ? 'this order was' : `${n} orders were`} not checked for CAR-T advice`,
    'warning',
    detail,
    SOURCES.ehaEbmt,
    ctx,
  );
}

/**
 * When the orders are signed, as the cards say it: "on day +9 after CAR-T (infused 2026-03-01)", or before
 * an infusion is recorded, in the window a recorded leukapheresis opened.
 */
function orderTime(a: Assessment): string {
  return a.dayPostInfusion === null
    ? `before the CAR-T infusion (none recorded yet; leukapheresis on ${a.irradiation?.leukapheresisDate ?? 'a date not recorded'})`
    : `on ${dayLabel(a.dayPostInfusion)} after CAR-T (infused ${a.infusionDate ?? ''})`;
}

/** What an order asks for, as its text or first coding's display says (the resource reference when neither does). */
function orderName(order: DraftOrder): string {
  const concept: CodeableConcept | undefined =
    order.resourceType === 'MedicationRequest' ? order.medicationCodeableConcept : order.code;
  const display =
    concept?.text ??
    concept?.coding?.find((c) => c.display)?.display ??
    (order.resourceType === 'MedicationRequest' ? order.medicationReference?.display : undefined);
  return typeof display === 'string' && oneLine(display) ? recordText(display, 120) : 'no name given';
}

function irradiationCard(
  a: Assessment,
  order: ServiceRequest,
  role: Role,
  matchedBy: AdvisableOrder['matchedBy'],
  ctx: CardContext,
  thresholds: HospitalThresholds,
): Card {
  // The product as a noun ("Platelets ordered") and as the order's kind ("this platelet order").
  const [product, kind] =
    role === 'platelet-transfusion'
      ? ['platelets', 'platelet']
      : role === 'red-cell-transfusion'
        ? ['red cells', 'red cell']
        : ['blood product', 'blood product'];
  const orderRef = `ServiceRequest/${order.id ?? ''}`;
  const uuid = stableUuid(ctx.serviceId, ctx.patientId, orderRef, 'transfusion-irradiation');
  const against = orderTexts(order).filter(saysNotIrradiated);
  const when =
    a.dayPostInfusion === null ? 'before the CAR-T infusion' : `on ${dayLabel(a.dayPostInfusion)} after CAR-T`;
  const detail = [
    `**Why:** this ${kind} order is not for an irradiated product, ${orderTime(a)}.` +
      (against.length > 0
        ? ` The order says: ${against.map((t) => `"${mdText(recordText(t, 120))}"`).join(', ')}.`
        : ''),
    ...(matchedBy === 'name'
      ? [
          `_Recognised as a ${kind} transfusion by its name ("${mdText(recordText(orderName(order), 120))}"): the order's codes are not among the codes this service knows._`,
        ]
      : []),
    `**Recommendation in force:** ${irradiationNote(a.irradiation, thresholds.values)}`,
    `Current counts:\n\n${countsTable(a, ['neutrophils', 'platelets', 'hemoglobin'])}`,
  ].join('\n\n');
  const card = baseCard(
    'transfusion-irradiation',
    uuid,
    `${product[0]?.toUpperCase()}${product.slice(1)} ordered ${when}: use an irradiated product`,
    'warning',
    detail,
    SOURCES.ehaEbmt,
    ctx,
  );
  if (!order.id) return card; // an update needs the draft order's id
  const irradiated = (ctx.orderables ?? DEFAULT_ORDERABLES).irradiated;
  // A detail that says "non-irradiated" gives way to the irradiated one (notes are the orderer's to change).
  const kept = (order.orderDetail ?? []).filter(
    (c) => !conceptTexts(c).some((t) => typeof t === 'string' && saysNotIrradiated(t)),
  );
  const updated: ServiceRequest = { ...order, orderDetail: [...kept, irradiated] };
  return {
    ...card,
    suggestions: [
      updateSuggestion(
        stableUuid(uuid, 'suggestion', 1),
        'Change to an irradiated product',
        `Update ${orderRef} to request irradiated ${product}`,
        updated,
      ),
    ],
    selectionBehavior: 'at-most-one',
  };
}
