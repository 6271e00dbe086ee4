/**
 * Child processes for the benchmarks: the service (src/server.ts through tsx) and a bare node:http
 * server, on fixed loopback ports, with their CPU time read from /proc (user + system).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** USER_HZ is 100 on Linux: one clock tick is 10 ms. */
const MS_PER_TICK = 10;

export interface Child {
  proc: ChildProcess;
  url: string;
  /** CPU milliseconds used so far (user + system, all threads). */
  cpuMs(): number;
  stop(): Promise<void>;
}

export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

/** Polls `url` until it answers 200; the milliseconds it took since `since`. */
export async function waitFor(url: string, since: number, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() - since > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function start(args: string[], env: Record<string, string>, url: string): Child {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    proc,
    url,
    cpuMs: () => cpuMsOf(proc.pid as number),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

/** The V8 flags the service runs with in production: those of `npm run serve` (also the Dockerfile's CMD). */
export function serviceNodeFlags(): string[] {
  const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> })
    .scripts;
  return (scripts['serve'] ?? '').split(/\s+/).filter((word) => /^--max-[a-z-]+=\d+$/.test(word));
}

/** The service from source, with its production V8 flags, without the demo unless asked. */
export function startService(port: number, env: Record<string, string> = {}): Child {
  return start(
    [...serviceNodeFlags(), '--import', 'tsx', 'src/server.ts'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      FEEDBACK_SQLITE_PATH: ':memory:',
      DEMO: 'false',
      FHIR_ALLOW_HTTP: 'true',
      ...env,
    },
    `http://127.0.0.1:${port}`,
  );
}

/** The floor: reads the body, JSON.parse, answers a constant card. */
export function startBare(port: number): Child {
  return start(['--import', 'tsx', 'bench/lib/bare-server.ts'], { PORT: String(port) }, `http://127.0.0.1:${port}`);
}
