/**
 * The audit trail's table (audit_event), in PostgreSQL (migrations/…_audit-event.sql: append-only,
 * enforced by a trigger) or SQLite (created on start-up; UPDATE refused by a trigger).
 */
import type Database from 'better-sqlite3';
import type { AuditRecord, AuditStore, StoredAuditRecord } from '../audit/audit.js';
import type { PostgresFeedbackStore } from './postgres.js';
import { transaction } from './pg-transaction.js';

const COLUMNS = `recorded_at, action, client_iss, client_sub, user_id, patient_id, service_id, hook, hook_instance,
  card_uuids, status, request_id, client_address, refusal`;
const WIDTH = 14;

interface AuditRow {
  id: string | number;
  recorded_at: string | Date;
  action: string;
  client_iss: string | null;
  client_sub: string | null;
  user_id: string | null;
  patient_id: string | null;
  service_id: string | null;
  hook: string | null;
  hook_instance: string | null;
  card_uuids: string[] | string;
  status: number;
  request_id: string | null;
  client_address: string | null;
  refusal: string | null;
}

function values(r: AuditRecord, cards: (uuids: string[]) => unknown): unknown[] {
  return [
    r.recordedAt.toISOString(),
    r.action,
    r.clientIss ?? null,
    r.clientSub ?? null,
    r.userId ?? null,
    r.patientId ?? null,
    r.serviceId ?? null,
    r.hook ?? null,
    r.hookInstance ?? null,
    cards(r.cardUuids),
    r.status,
    r.requestId ?? null,
    r.clientAddress ?? null,
    r.refusal ?? null,
  ];
}

function fromRow(row: AuditRow): StoredAuditRecord {
  const opt = (v: string | null): string | undefined => v ?? undefined;
  return {
    id: String(row.id),
    recordedAt: new Date(row.recorded_at),
    action: row.action === 'assessment' ? 'assessment' : 'cds-call',
    clientIss: opt(row.client_iss),
    clientSub: opt(row.client_sub),
    userId: opt(row.user_id),
    patientId: opt(row.patient_id),
    serviceId: opt(row.service_id),
    hook: opt(row.hook),
    hookInstance: opt(row.hook_instance),
    cardUuids: Array.isArray(row.card_uuids) ? row.card_uuids : (JSON.parse(row.card_uuids) as string[]),
    status: Number(row.status),
    requestId: opt(row.request_id),
    clientAddress: opt(row.client_address),
    refusal: opt(row.refusal),
  };
}

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly db: Pick<PostgresFeedbackStore, 'withClient' | 'timeoutMs'>) {}

  async append(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map((r) => values(r, (u) => u));
    const placeholders = rows
      .map((_, i) => `(${Array.from({ length: WIDTH }, (_v, j) => `$${i * WIDTH + j + 1}`).join(', ')})`)
      .join(', ');
    await this.db.withClient(this.db.timeoutMs, (client) =>
      client.query(`INSERT INTO audit_event (${COLUMNS}) VALUES ${placeholders}`, rows.flat()),
    );
  }

  async read(range: {
    from: Date;
    to: Date;
    afterId?: string | undefined;
    limit: number;
  }): Promise<StoredAuditRecord[]> {
    const result = await this.db.withClient(5 * this.db.timeoutMs, (client) =>
      client.query<AuditRow>(
        `SELECT id, ${COLUMNS} FROM audit_event
         WHERE recorded_at >= $1 AND recorded_at < $2 AND id > $3 ORDER BY id LIMIT $4`,
        [range.from.toISOString(), range.to.toISOString(), range.afterId ?? '0', range.limit],
      ),
    );
    return result.rows.map(fromRow);
  }

  /**
   * One batch, under the storage timeout like any other call (pool-wide statement_timeout too): the
   * oldest rows' ids through the recorded_at index, locked, skipping those another replica's retention
   * holds, then deleted by primary key.
   */
  async prune(before: Date, limit: number): Promise<number> {
    return this.db.withClient(this.db.timeoutMs, (client) =>
      transaction(client, async () => {
        // The one deletion the append-only trigger lets through (migrations/…_audit-event.sql).
        await client.query("SET LOCAL cart.audit_retention = 'on'");
        const r = await client.query(
          `DELETE FROM audit_event WHERE id IN
             (SELECT id FROM audit_event WHERE recorded_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [before.toISOString(), limit],
        );
        return r.rowCount ?? 0;
      }),
    );
  }
}

export const SQLITE_AUDIT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS audit_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('cds-call', 'assessment')),
    client_iss TEXT, client_sub TEXT, user_id TEXT, patient_id TEXT, service_id TEXT, hook TEXT,
    hook_instance TEXT, card_uuids TEXT NOT NULL DEFAULT '[]', status INTEGER NOT NULL,
    request_id TEXT, client_address TEXT, refusal TEXT
  );
  CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded_at);
  CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;`;

/** Creates the SQLite audit table, or adds what a table of an older release lacks (refusal). */
export function sqliteAuditSchema(db: Database.Database): void {
  db.exec(SQLITE_AUDIT_SCHEMA);
  const columns = db.prepare('SELECT name FROM pragma_table_info(?)').all('audit_event') as { name: string }[];
  if (!columns.some((c) => c.name === 'refusal')) db.exec('ALTER TABLE audit_event ADD COLUMN refusal TEXT');
}

/** SQLite: `db` is the bookkeeping connection (see SqliteFeedbackStore.bookkeeping). */
export class SqliteAuditStore implements AuditStore {
  /** The insert, prepared once per connection (preparing it per batch cost more than the insert). */
  private insert: { db: Database.Database; all: (records: readonly AuditRecord[]) => void } | undefined;

  constructor(private readonly db: () => Database.Database) {}

  append(records: readonly AuditRecord[]): Promise<void> {
    return new Promise<void>((resolve) => {
      const db = this.db();
      if (this.insert?.db !== db) {
        const insert = db.prepare(
          `INSERT INTO audit_event (${COLUMNS}) VALUES (${Array.from({ length: WIDTH }, () => '?').join(', ')})`,
        );
        const all = db.transaction((batch: readonly AuditRecord[]) => {
          for (const r of batch) insert.run(values(r, (u) => JSON.stringify(u)));
        });
        this.insert = { db, all };
      }
      this.insert.all(records);
      resolve();
    });
  }

  read(range: { from: Date; to: Date; afterId?: string | undefined; limit: number }): Promise<StoredAuditRecord[]> {
    return new Promise((resolve) => {
      const rows = this.db()
        .prepare(
          `SELECT id, ${COLUMNS} FROM audit_event
           WHERE recorded_at >= ? AND recorded_at < ? AND id > ? ORDER BY id LIMIT ?`,
        )
        .all(range.from.toISOString(), range.to.toISOString(), Number(range.afterId ?? 0), range.limit) as AuditRow[];
      resolve(rows.map(fromRow));
    });
  }

  /** One batch: better-sqlite3 holds the event loop (and the write lock) while it deletes. */
  prune(before: Date, limit: number): Promise<number> {
    return new Promise((resolve) => {
      const deleted = this.db()
        .prepare('DELETE FROM audit_event WHERE id IN (SELECT id FROM audit_event WHERE recorded_at < ? LIMIT ?)')
        .run(before.toISOString(), limit).changes;
      resolve(deleted);
    });
  }
}
