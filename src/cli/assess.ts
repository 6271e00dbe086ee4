#!/usr/bin/env node
/**
 * cart-hematotox assess: assesses a FHIR Bundle file (one patient) or a folder of FHIR Bulk Data
 * NDJSON files (many patients), writing JSON or CSV. A progress bar goes to stderr for long runs.
 *
 *   cart-hematotox assess <bundle.json | folder> [--as-of YYYY-MM-DD] [--infusion-date YYYY-MM-DD]
 *     [--format json|csv] [--out FILE] [--thresholds FILE] [--local-codes FILE] [--time-zone TZ]
 *
 * The entry (the `bin`): for a folder it starts the worker threads first and only then loads the
 * engine (run.ts), so the workers load theirs on the other core meanwhile.
 */
import { realpathSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from './args.js';
import { startPool } from './pool.js';

/** Whether this module is the program: also through the `bin` symlink npm makes (node_modules/.bin). */
function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** `assess <folder>`: any mistake in the arguments is reported by run.ts, which reads them again. */
function namesAFolder(argv: string[]): boolean {
  try {
    const [command, input] = parse(argv).positionals;
    if (command !== 'assess' || input === undefined) return false;
    return statSync(input, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  const pool = namesAFolder(argv) ? startPool() : undefined;
  const { run } = await import('./run.js');
  return run(argv, process.stdout, process.stderr, pool);
}

if (isMain()) {
  main(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code;
    })
    .catch((error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 3;
    });
}
