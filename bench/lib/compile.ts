/**
 * The project compiled once per benchmark run into a scratch folder that looks like the project
 * root (package.json, fhir-profiles, node_modules), so figures are those of the compiled service
 * and CLI (`npm start`, `npx cart-hematotox`), not tsx's. Removed when the process exits.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes.js';

let dir: string | undefined;

export function compiled(): string {
  if (dir) return dir;
  const out = mkdtempSync(join(tmpdir(), 'cart-bench-'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  // tsc exits non-zero on a type error anywhere in the tree but still emits; the check is the emitted server.
  spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(out, 'dist')],
    {
      cwd: ROOT,
      stdio: 'ignore',
    },
  );
  if (!existsSync(join(out, 'dist/src/server.js'))) throw new Error('tsc emitted nothing');
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  for (const link of ['fhir-profiles', 'node_modules', 'config']) symlinkSync(join(ROOT, link), join(out, link));
  mkdirSync(join(out, 'data'), { recursive: true });
  dir = out;
  return out;
}
