/**
 * Prometheus metrics for card bookkeeping, read from CardRecorder's counters at scrape time.
 * Alert on `cds_card_records_dropped_total` or `cds_card_records_failed_total` increasing: the
 * alert-fatigue reports are then missing issued cards (clinicians still got them).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CardRecorder } from './card-recorder.js';

export function registerCardRecorderMetrics(
  registry: Registry,
  recorder: Pick<CardRecorder, 'dropped' | 'failed' | 'recorded' | 'queued'>,
): void {
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter('cds_card_records_written_total', 'Service calls whose issued cards were recorded', () => recorder.recorded);
  counter(
    'cds_card_records_dropped_total',
    'Service calls whose issued cards were not recorded: bookkeeping queue full or closed',
    () => recorder.dropped,
  );
  counter(
    'cds_card_records_failed_total',
    'Service calls whose issued cards were not recorded: storage error or timeout',
    () => recorder.failed,
  );
  new Gauge({
    name: 'cds_card_records_queued',
    help: 'Service calls whose issued cards wait to be recorded',
    registers: [registry],
    collect() {
      this.set(recorder.queued);
    },
  });
}
