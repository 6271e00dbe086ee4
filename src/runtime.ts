/**
 * What a running service holds besides its HTTP listener: storage (feedback, issued cards, the
 * audit trail, the shared jti replay store), the writers behind the response, the audit retention
 * job and the metrics; and the graceful shutdown of all of it. Built by src/server.ts.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { AuditStore } from './audit/audit.js';
import { AuditRecorder } from './audit/recorder.js';
import { startAuditRetention } from './audit/retention.js';
import type { ReplayStore } from './cds-hooks/auth.js';
import type { Config } from './config.js';
import { ServiceMetrics } from './observability/metrics.js';
import {
  auditStoreFor,
  CardRecorder,
  createFeedbackStore,
  replayStoreFor,
  type FeedbackStore,
} from './storage/index.js';

export interface Runtime {
  feedback: FeedbackStore;
  cardRecorder: CardRecorder;
  audit: AuditStore;
  auditRecorder: AuditRecorder;
  /** Undefined with SQLite: the verifier then remembers jtis in memory. */
  replay: ReplayStore | undefined;
  metrics: ServiceMetrics;
  /** Flushes the writers (bounded) and closes storage. */
  close(): Promise<void>;
}

export async function openRuntime(
  config: Config,
  log: Logger,
  services: readonly { id: string; hook: string }[],
): Promise<Runtime> {
  const feedback = await createFeedbackStore(config, log);
  log.info({ storage: feedback.kind, timeoutMs: config.storage.timeoutMs }, 'feedback storage ready');
  const metrics = new ServiceMetrics(new Registry(), services);
  const cardRecorder = new CardRecorder(feedback, { log, maxQueuedBatches: config.storage.cardQueueMax });
  const audit = auditStoreFor(feedback);
  const auditRecorder = new AuditRecorder(audit, { log });
  const replay = replayStoreFor(feedback, log);
  if (config.auth.trustedIssuers.length > 0)
    log.info({ replayStore: replay?.kind ?? 'memory' }, 'JWT jti replay store ready');
  const stopRetention = startAuditRetention(audit, config.auditRetentionDays, {
    log,
    onDeleted: (n) => metrics.auditRetentionDeleted.inc(n),
  });
  return {
    feedback,
    cardRecorder,
    audit,
    auditRecorder,
    replay,
    metrics,
    close: async () => {
      stopRetention();
      (replay as { close?: () => void } | undefined)?.close?.();
      // Queued card records and audit events are written before the store closes (bounded wait).
      const [cards, audited] = await Promise.all([
        cardRecorder.close(2 * config.storage.timeoutMs),
        auditRecorder.close(2 * config.storage.timeoutMs),
      ]);
      if (!cards || !audited)
        log.error(
          { cardsQueued: cardRecorder.queued, auditQueued: auditRecorder.queued },
          'shutdown: records not written',
        );
      await feedback.close();
    },
  };
}

/**
 * Stops accepting connections and waits for the calls in flight to be answered, closing each
 * keep-alive connection once it is idle; after `timeoutMs` the connections left are cut.
 */
export async function closeGracefully(server: Server, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
