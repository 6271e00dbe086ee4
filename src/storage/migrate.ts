/**
 * PostgreSQL schema: versioned migrations (`migrations/*.sql`, applied by node-pg-migrate), each
 * applied once, recorded in `pgmigrations`. node-pg-migrate takes a PostgreSQL advisory lock for
 * the whole run (mode `wait`): replicas starting at the same instant apply the migrations one
 * after the other, and the later ones find nothing left to do.
 *
 * Migrations are plain SQL, readable by a DBA. One step cannot be SQL: dedupe keys of feedback
 * stored before they existed are a sha256 over JSON of the identifying fields (dedupe.ts); it runs,
 * inside the same transaction and lock, just before the migration that needs it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner, type MigrationBuilder } from 'node-pg-migrate';
import type pg from 'pg';
import { backfillKeys, rowDedupeKey, type UnkeyedFeedbackRow } from './dedupe.js';
import { UNKEYED_FEEDBACK_SQL } from './sql.js';

/** Table recording which migrations ran (node-pg-migrate's default name). */
export const MIGRATIONS_TABLE = 'pgmigrations';

/** The folder `migrations/` of this package: next to package.json, from src/ or from dist/src/. */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
    dir = dirname(dir);
  }
  throw new Error('migrations/ not found next to package.json (the image must copy it)');
}

type Db = MigrationBuilder['db'];

/** Steps that need TypeScript, run before the SQL of the migration named by the key. */
const BEFORE: Record<string, (db: Db) => Promise<void>> = {
  '1763800000001_feedback-dedupe-index.sql': backfillDedupeKeys,
};

/** Each SQL file's part after `-- Up Migration` (before `-- Down Migration`, if any). */
function upSql(content: string): string {
  const up = content.search(/^\s*--[\s-]*up\s+migration/im);
  const down = content.search(/^\s*--[\s-]*down\s+migration/im);
  const start = Math.max(0, up);
  return content.slice(start, down > start ? down : undefined);
}

export interface MigrateOptions {
  /** Connected client; the caller closes it. Its statement_timeout bounds the wait for the lock. */
  client: pg.ClientBase;
  log?: (message: string) => void;
  dir?: string;
}

/** Applies every pending migration, under node-pg-migrate's advisory lock, in one transaction. */
export async function migrate(options: MigrateOptions): Promise<{ name: string }[]> {
  const log = options.log ?? (() => undefined);
  return runner({
    dbClient: options.client,
    dir: options.dir ?? migrationsDir(),
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    singleTransaction: true,
    checkOrder: true,
    // Another replica migrating: wait for it (bounded by the client's statement_timeout), then
    // find the work done.
    advisoryLockMode: 'wait',
    log,
    migrationLoaderStrategies: [
      {
        extensions: ['.sql'],
        loader: (paths) =>
          Promise.resolve(
            paths.map((path) => {
              const sql = upSql(readFileSync(path, 'utf8'));
              const before = BEFORE[basename(path)];
              return {
                id: path,
                filePaths: [path],
                actions: {
                  up: async (pgm: MigrationBuilder) => {
                    if (before) await before(pgm.db);
                    pgm.sql(sql);
                  },
                  down: false as const,
                },
              };
            }),
          ),
      },
    ],
  });
}

/** Gives every feedback row stored without a dedupe key its key (see backfillKeys for duplicates). */
async function backfillDedupeKeys(db: Db): Promise<void> {
  const rows = (await db.select(UNKEYED_FEEDBACK_SQL)) as UnkeyedFeedbackRow[];
  if (rows.length === 0) return;
  const plain = rows.map(rowDedupeKey);
  const taken = (await db.query('SELECT dedupe_key FROM feedback WHERE dedupe_key = ANY($1::text[])', [plain]))
    .rows as { dedupe_key: string }[];
  const keys = backfillKeys(rows, new Set(taken.map((t) => t.dedupe_key)));
  await db.query(
    'UPDATE feedback AS f SET dedupe_key = v.key FROM unnest($1::bigint[], $2::text[]) AS v(id, key) WHERE f.id = v.id',
    [keys.map((k) => String(k.id)), keys.map((k) => k.key)],
  );
}
