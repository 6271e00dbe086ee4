/**
 * SIGINT (Ctrl-C), SIGTERM (a job scheduler, `kill`) and SIGHUP (the terminal closed) during a run:
 * left to their default, they end the process at once, and `--out`'s partial copy, which holds
 * patient data, stays on disk. Here each undoes what the run has under way (the steps registered
 * with {@link onInterrupt}, latest first: the progress bar put away, the partial copy removed),
 * says one line on stderr, and ends the process with 128 + the signal's number, as a shell reports a
 * program a signal stopped (130, 143, 129). The worker threads end with the process.
 */
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const steps: (() => void)[] = [];

/** A step to undo on interruption (it must not wait: the process ends right after); the function that takes it back. */
export function onInterrupt(step: () => void): () => void {
  steps.push(step);
  return () => {
    const at = steps.lastIndexOf(step);
    if (at >= 0) steps.splice(at, 1);
  };
}

/**
 * Until the returned function is called, SIGINT, SIGTERM and SIGHUP interrupt the run: the steps of
 * {@link onInterrupt} are run, `say(signal)` is written on `err`, and the process exits.
 */
export function exitOnSignals(err: NodeJS.WritableStream, say: (signal: NodeJS.Signals) => string): () => void {
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals): void => {
    if (interrupted) return; // a second Ctrl-C while the line goes out
    interrupted = true;
    for (const step of steps.splice(0).reverse()) step();
    const code = 128 + constants.signals[signal];
    // Exits once the line is out (stderr to a pipe is written asynchronously), or after a second
    // when stderr takes nothing in.
    err.write(`${say(signal)}\n`, () => process.exit(code));
    setTimeout(() => process.exit(code), 1000);
  };
  for (const signal of SIGNALS) process.on(signal, interrupt);
  return () => {
    for (const signal of SIGNALS) process.off(signal, interrupt);
  };
}
