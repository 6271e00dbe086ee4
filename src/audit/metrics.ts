/**
 * Prometheus metrics of the audit writer, read from AuditRecorder's counters at scrape time.
 */
import type { Registry } from 'prom-client';
import { registerReadout } from '../observability/metrics.js';
import type { AuditRecorder } from './recorder.js';

/** cds_audit_events_*: alert when dropped or failed increase (the trail is then incomplete). */
export function registerAuditMetrics(registry: Registry, recorder: AuditRecorder): void {
  registerReadout(registry, [
    {
      name: 'cds_audit_events_written_total',
      help: 'Audit events written',
      type: 'counter',
      read: () => recorder.written,
    },
    {
      name: 'cds_audit_events_dropped_total',
      help: 'Audit events not written: queue full or closed',
      type: 'counter',
      read: () => recorder.dropped,
    },
    {
      name: 'cds_audit_events_failed_total',
      help: 'Audit events not written: storage error (after one retry)',
      type: 'counter',
      read: () => recorder.failed,
    },
    {
      name: 'cds_audit_events_queued',
      help: 'Audit events waiting to be written',
      type: 'gauge',
      read: () => recorder.queued,
    },
  ]);
}
