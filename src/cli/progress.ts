/**
 * The progress bar of a cohort run on stderr (patients/s, ETA), for a terminal and 20 patients or
 * more; the lines said during the run (a failed patient) are written above it.
 */
import { MultiBar } from 'cli-progress';
import { onInterrupt } from './interrupt.js';

export interface Progress {
  tick(): void;
  /** Writes a line (ended by '\n') on stderr, above the bar when there is one. */
  note(line: string): void;
  stop(): void;
}

/** No bar: lines go straight to stderr. */
export function noBar(err: NodeJS.WritableStream): Progress {
  return { tick: () => undefined, note: (line) => void err.write(line), stop: () => undefined };
}

export function progressBar(err: NodeJS.WritableStream & { isTTY?: boolean }, total: number): Progress {
  if (!err.isTTY || total < 20) return noBar(err);
  // A MultiBar of one: it writes log lines above the bar (a SingleBar's would be drawn over).
  const bars = new MultiBar({
    format: 'assessing {bar} {value}/{total} patients | {rate} patients/s | ETA {eta_formatted}',
    stream: err,
    etaBuffer: 50,
  });
  const started = performance.now();
  let done = 0;
  const bar = bars.create(total, 0, { rate: '–' });
  // Interrupted, the bar is put away first: it turned the terminal's line wrapping off.
  const forget = onInterrupt(() => bars.stop());
  return {
    tick: () => {
      done++;
      bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1) });
    },
    note: (line) => bars.log(line),
    stop: () => {
      forget();
      bars.update(); // the lines logged since the last redraw
      bars.stop();
    },
  };
}
