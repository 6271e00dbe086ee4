/**
 * A real, throw-away PostgreSQL cluster for storage tests, from Debian's `postgresql` package:
 * initdb into a temporary directory, listen on a free port and on a socket in that directory,
 * fsync off (the tests check our transactions, not the disk). As root, the cluster runs as the
 * `postgres` user because PostgreSQL refuses to run as root.
 *
 * TEST_DATABASE_URL, when set, is used instead (an existing database the tests may write to); it
 * cannot be frozen (`dataDir` is undefined and freeze() throws).
 *
 * freeze()/thaw() SIGSTOP/SIGCONT every process of the cluster (postmaster and its children): TCP
 * connections stay open and new ones are accepted by the kernel, but nothing answers, as with a
 * hung server or a network partition. stop() thaws first.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface TestPostgres {
  url: string;
  /** The cluster's data directory; undefined for TEST_DATABASE_URL. */
  dataDir?: string | undefined;
  /** Postmaster first, then its children (backends, checkpointer, walwriter…). */
  pids(): number[];
  /** SIGSTOP the whole cluster; returns the pids stopped. */
  freeze(): number[];
  /** SIGCONT the whole cluster (safe to call when not frozen). */
  thaw(): void;
  stop(): Promise<void>;
}

/** The postmaster's pid (first line of postmaster.pid) and every process whose parent it is. */
function clusterPids(dataDir: string): number[] {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return [];
  const postmaster = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(postmaster) || postmaster <= 0) return [];
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces, so split after ')'.
      const stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return [postmaster, ...children];
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

function binDir(): string {
  if (process.env['PG_BIN']) return process.env['PG_BIN'];
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) {
    throw new Error(
      "PostgreSQL server binaries not found: install Debian's `postgresql` package (npm test does it as root via scripts/ensure-test-deps.sh) or set TEST_DATABASE_URL",
    );
  }
  return join(root, newest, 'bin');
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env['TEST_DATABASE_URL'];
  if (external) {
    const unsupported = (): never => {
      throw new Error('TEST_DATABASE_URL: an external database cannot be frozen');
    };
    return {
      url: external,
      dataDir: undefined,
      pids: () => [],
      freeze: unsupported,
      thaw: () => undefined,
      stop: () => Promise.resolve(),
    };
  }

  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'cart-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const exec = (cmd: string, args: string[]): Promise<unknown> =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { cwd: dir })
      : run(join(bin, cmd), args, { cwd: dir });
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(dir, 0o700);
  }
  await exec('initdb', ['-D', data, '-U', 'cart', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  await exec('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  await exec('createdb', ['-h', dir, '-p', String(port), '-U', 'cart', 'feedback']);
  let frozen: number[] = [];
  const thaw = (): void => {
    signal([...new Set([...frozen, ...clusterPids(data)])], 'SIGCONT');
    frozen = [];
  };
  return {
    url: `postgresql://cart@127.0.0.1:${port}/feedback`,
    dataDir: data,
    pids: () => clusterPids(data),
    freeze: () => {
      // The postmaster first, so it forks no new backend while the others are being stopped.
      const postmaster = clusterPids(data).slice(0, 1);
      signal(postmaster, 'SIGSTOP');
      frozen = [...postmaster, ...clusterPids(data).slice(1)];
      signal(frozen.slice(1), 'SIGSTOP');
      return frozen;
    },
    thaw,
    stop: async () => {
      thaw();
      await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
