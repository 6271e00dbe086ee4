/**
 * The service's Prometheus metrics: what a ward's clinicians got (calls, cards), what it cost
 * (engine time, FHIR upstream latency), what went wrong (FHIR failures, JWT refusals, card and
 * audit records lost) and what clinicians did with the cards (feedback). Names follow Prometheus
 * conventions (https://prometheus.io/docs/practices/naming/): `cds_` prefix, base units
 * (seconds), `_total` for counters.
 *
 * Every label has a bounded set of values: service ids and prefetch keys are the service's own,
 * card kinds and indicators come from the cards we build, FHIR resource types outside a known list
 * become `other`, and an unknown service id in a URL becomes `unknown`. Never a patient id, a
 * user id or a hookInstance.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Budget } from '../shared/budget.js';

/** Outcomes of one request to a FHIR server (FhirAccessFailure of src/fhir/gateway.ts, plus ok). */
export type FhirOutcome =
  'ok' | 'timeout' | 'refused' | 'unreachable' | 'http-error' | 'invalid-response' | 'too-large' | 'search-failed';

const FHIR_OUTCOMES = new Set<string>([
  'ok',
  'timeout',
  'refused',
  'unreachable',
  'http-error',
  'invalid-response',
  'too-large',
  'search-failed',
]);

/** Resource types the services read; anything else is labelled `other`. */
const RESOURCE_TYPES = new Set([
  'Patient',
  'Observation',
  'MedicationAdministration',
  'MedicationRequest',
  'Medication',
  'Procedure',
  'Condition',
  'ServiceRequest',
]);

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ENGINE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export class ServiceMetrics {
  readonly calls: Counter<'service' | 'hook' | 'status'>;
  readonly callDuration: Histogram<'service' | 'hook'>;
  readonly cards: Counter<'service' | 'kind' | 'indicator'>;
  readonly fhirRequests: Counter<'outcome' | 'resource_type'>;
  readonly fhirDuration: Histogram<'outcome'>;
  readonly prefetchKeys: Counter<'service' | 'key' | 'source'>;
  readonly feedback: Counter<'service' | 'outcome' | 'result'>;
  readonly jwtRefusals: Counter<'reason'>;
  readonly engineDuration: Histogram<'operation'>;
  readonly adminAuthFailures: Counter<'result'>;
  readonly auditRetentionDeleted: Counter;
  private readonly knownServices: Set<string>;

  constructor(
    readonly registry: Registry,
    services: readonly { id: string; hook: string }[] = [],
  ) {
    this.knownServices = new Set(services.map((s) => s.id));
    const registers = [registry];
    this.calls = new Counter({
      name: 'cds_service_calls_total',
      help: 'CDS Hooks service calls answered, by service, hook and HTTP status',
      labelNames: ['service', 'hook', 'status'],
      registers,
    });
    this.callDuration = new Histogram({
      name: 'cds_service_call_duration_seconds',
      help: 'Time to answer a CDS Hooks service call, FHIR reads included',
      labelNames: ['service', 'hook'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.cards = new Counter({
      name: 'cds_cards_issued_total',
      help: 'Cards returned to CDS clients, by service, card kind and indicator',
      labelNames: ['service', 'kind', 'indicator'],
      registers,
    });
    this.fhirRequests = new Counter({
      name: 'cds_fhir_requests_total',
      help: 'Requests to FHIR servers (fhirServer of CDS calls), by outcome and resource type',
      labelNames: ['outcome', 'resource_type'],
      registers,
    });
    this.fhirDuration = new Histogram({
      name: 'cds_fhir_request_duration_seconds',
      help: 'Duration of one request to a FHIR server, headers and body, by outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.prefetchKeys = new Counter({
      name: 'cds_prefetch_keys_total',
      help: 'Prefetch keys of CDS calls by source: prefetch (sent by the client), fetched (read from fhirServer), null, absent',
      labelNames: ['service', 'key', 'source'],
      registers,
    });
    this.feedback = new Counter({
      name: 'cds_feedback_entries_total',
      help: 'Feedback entries received, by service, outcome (accepted, overridden) and result (stored, duplicate, failed; unknown: COMMIT sent but not confirmed in time, maybe stored)',
      labelNames: ['service', 'outcome', 'result'],
      registers,
    });
    this.jwtRefusals = new Counter({
      name: 'cds_jwt_refusals_total',
      help: 'CDS client JWTs refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.engineDuration = new Histogram({
      name: 'cds_engine_duration_seconds',
      help: 'Time spent in the hematotoxicity engine (assess) for one patient',
      labelNames: ['operation'],
      buckets: ENGINE_BUCKETS,
      registers,
    });
    this.adminAuthFailures = new Counter({
      name: 'cds_admin_auth_failures_total',
      help: 'Administrative requests refused: wrong or missing token (refused) or throttled (rate_limited)',
      labelNames: ['result'],
      registers,
    });
    this.auditRetentionDeleted = new Counter({
      name: 'cds_audit_events_expired_total',
      help: 'Audit events deleted because they passed AUDIT_RETENTION_DAYS',
      registers,
    });
  }

  /** The service label for a service id taken from a URL: the id when it is one of ours, else `unknown`. */
  serviceLabel(id: string | undefined): string {
    return id !== undefined && this.knownServices.has(id) ? id : 'unknown';
  }

  observeFhirRequest(outcome: string, resourceType: string | undefined, seconds: number): void {
    const o = FHIR_OUTCOMES.has(outcome) ? outcome : 'unreachable';
    const type = resourceType && RESOURCE_TYPES.has(resourceType) ? resourceType : 'other';
    this.fhirRequests.inc({ outcome: o, resource_type: type });
    this.fhirDuration.observe({ outcome: o }, seconds);
  }

  /** Times `work` (synchronous: the engine) into cds_engine_duration_seconds. */
  timeEngine<T>(operation: 'cds-call' | 'assessment', work: () => T): T {
    const end = this.engineDuration.startTimer({ operation });
    try {
      return work();
    } finally {
      end();
    }
  }
}

/** Gauges and counters read from an object's fields at scrape time (recorders keep plain numbers). */
export function registerReadout(
  registry: Registry,
  items: { name: string; help: string; type: 'counter' | 'gauge'; read: () => number }[],
): void {
  for (const item of items) {
    if (item.type === 'gauge')
      new Gauge({
        name: item.name,
        help: item.help,
        registers: [registry],
        collect() {
          this.set(item.read());
        },
      });
    else
      new Counter({
        name: item.name,
        help: item.help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(item.read());
        },
      });
  }
}

/** The process's memory budgets (src/shared/budget.ts): what they hold, who waits, who was refused. */
export function registerMemoryBudgetMetrics(
  registry: Registry,
  room: Record<'bytes' | 'values', Pick<Budget, 'inUse' | 'waiting' | 'refused'>>,
): void {
  registerReadout(registry, [
    {
      name: 'cds_json_values_in_flight',
      help: 'JSON values of request bodies and fhirServer answers held parsed by calls not yet answered (MAX_JSON_VALUES_IN_FLIGHT)',
      type: 'gauge',
      read: () => room.values.inUse,
    },
    {
      name: 'cds_body_bytes_in_flight',
      help: 'Bytes of request bodies held by calls not yet answered (MAX_BODY_BYTES_IN_FLIGHT)',
      type: 'gauge',
      read: () => room.bytes.inUse,
    },
    {
      name: 'cds_memory_waiting_calls',
      help: 'Request bodies and fhirServer answers waiting for room in either budget',
      type: 'gauge',
      read: () => room.bytes.waiting + room.values.waiting,
    },
    {
      name: 'cds_memory_refused_total',
      help: 'Request bodies and fhirServer answers refused (503) after MEMORY_WAIT_MS without room',
      type: 'counter',
      read: () => room.bytes.refused + room.values.refused,
    },
  ]);
}
