/**
 * Where `cart-hematotox assess` writes: standard output, or `--out FILE`.
 *
 * A file is checked before any patient is assessed (a folder that does not exist or cannot be
 * written fails at once, not after an hour of work) and written beside its name first, then renamed
 * over it: a run that fails half-way never leaves a half-written CSV for the next job to read, and
 * an existing file stays as it was until the new one is complete. A device or pipe named by `--out`
 * (e.g. `/dev/stdout`) is written directly.
 *
 * Every write error (no space left, a closed pipe) becomes an {@link OutputError} instead of an
 * unhandled stream error; a reader that closed standard output early (`| head`) is
 * {@link OutputClosed}, which the command ends quietly on, as Unix tools do.
 */
import { once } from 'node:events';
import {
  closeSync,
  constants,
  createWriteStream,
  fchmodSync,
  lstatSync,
  openSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { printable } from './printable.js';

export class OutputError extends Error {}

/** Standard output was closed by its reader (EPIPE): nothing is wrong with the run. */
export class OutputClosed extends Error {}

export interface Output {
  /**
   * Resolves once the target is open (rejects with an OutputError when it cannot be). A FIFO opens
   * only when its reader does: waited for here, off the main thread, so that a signal still ends the run.
   */
  ready(): Promise<void>;
  /**
   * Writes the chunks in order, waiting when the target asks to; rejects with the first write error.
   * `onWritten` runs once the last of them is handed to the system (not merely buffered).
   */
  write(chunks: Iterable<string>, onWritten?: () => void): Promise<void>;
  /** Flushes and, for a file, puts it in place. */
  commit(): Promise<void>;
  /** After a failure: a file's partial copy is removed, the existing file left as it was. */
  discard(): void;
  /** Whether what was written can be taken back ({@link restart}): a file written beside its name, not a stream. */
  readonly restartable: boolean;
  /** Drops what was written and starts over: the file's partial copy replaced by an empty one. */
  restart(): void;
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/**
 * Writes to a stream, turning its 'error' events into rejections. The listener stays for the
 * stream's life: a stream may emit more than one error, and one left unheard ends the process.
 */
class StreamWriter {
  private failure: Error | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly name: string,
  ) {
    stream.on('error', (error: Error) => {
      this.failure ??= error;
    });
  }

  async write(chunks: Iterable<string>, onWritten?: () => void): Promise<void> {
    const all = [...chunks];
    for (const [i, chunk] of all.entries()) {
      this.check();
      const last = i === all.length - 1 && onWritten;
      const taken = last ? this.stream.write(chunk, (error) => error || onWritten()) : this.stream.write(chunk);
      if (!taken) await this.drained();
    }
    this.check();
  }

  /** Resolves once what was written is handed to the system (or rejects with why it was not). */
  async flush(): Promise<void> {
    this.check();
    await new Promise<void>((resolve) =>
      this.stream.write('', (error?: Error | null) => {
        if (error) this.failure ??= error;
        resolve();
      }),
    );
    // The callback runs before the 'error' event of the same failure: give that event its turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.check();
  }

  private async drained(): Promise<void> {
    try {
      await once(this.stream, 'drain');
    } catch (error) {
      this.failure ??= error as Error;
    }
  }

  private check(): void {
    const failure = this.failure;
    if (!failure) return;
    if ((failure as NodeJS.ErrnoException).code === 'EPIPE') throw new OutputClosed(`${this.name} was closed`);
    throw new OutputError(`cannot write ${this.name}: ${reason(failure)}`);
  }
}

function toStream(stream: NodeJS.WritableStream, name: string): Output {
  const writer = new StreamWriter(stream, name);
  return {
    ready: () => Promise.resolve(),
    write: (chunks, onWritten) => writer.write(chunks, onWritten),
    commit: () => writer.flush(),
    discard: () => undefined,
    restartable: false,
    restart: () => {
      throw new Error(`${name} cannot be written again`);
    },
  };
}

/**
 * The file `--out` names: a symbolic link's target (one that points nowhere: where it points), so
 * that the target is replaced, as a shell's `>` would write it, and the link stays.
 */
function targetOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    if (!lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) return path;
    return resolve(dirname(path), readlinkSync(path));
  }
}

/** The file written: its stream, and the writer that turns the stream's errors into rejections. */
interface Copy {
  stream: WriteStream;
  writer: StreamWriter;
}

function copyOn(fd: number, name: string): Copy {
  const stream: WriteStream = createWriteStream('', { fd });
  return { stream, writer: new StreamWriter(stream, name) };
}

/** The file written, opened: 0600 (it holds patient data from its first byte), then given `mode` when there is one. */
function openCopy(target: string, direct: boolean, mode: number | undefined, name: string): Copy {
  let fd: number;
  try {
    fd = openSync(target, direct ? 'w' : 'wx', 0o600);
  } catch (error) {
    throw new OutputError(`cannot write ${name}: ${reason(error)}`);
  }
  if (mode !== undefined) {
    try {
      fchmodSync(fd, mode);
    } catch (error) {
      closeSync(fd);
      rmSync(target, { force: true });
      throw new OutputError(`cannot write ${name}: ${reason(error)}`);
    }
  }
  return copyOn(fd, name);
}

/** How often a FIFO is tried for a reader. */
const FIFO_POLL_MS = 100;

/**
 * A FIFO, opened for writing once it has a reader. open() on a FIFO waits for the reader, and a
 * thread waiting there heeds no signal: on the main thread Ctrl-C would not be handled, in libuv's
 * pool the process could not exit. So it is tried without waiting (O_NONBLOCK: ENXIO while there is
 * no reader) every {@link FIFO_POLL_MS} ms, and once a reader is there opened as usual (at once);
 * `abandoned` stops the trying.
 */
async function openFifo(target: string, name: string, abandoned: () => boolean): Promise<number> {
  for (;;) {
    let probe: number | undefined;
    try {
      probe = openSync(target, constants.O_WRONLY | constants.O_NONBLOCK);
      return openSync(target, 'w');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO')
        throw new OutputError(`cannot write ${name}: ${reason(error)}`);
    } finally {
      if (probe !== undefined) closeSync(probe);
    }
    await new Promise((resolve) => setTimeout(resolve, FIFO_POLL_MS));
    if (abandoned()) throw new OutputError(`${name} was never opened by a reader`);
  }
}

/**
 * A regular file (existing or not) is written beside its name and renamed; anything else directly
 * (a FIFO once it has a reader: {@link Output.ready}). The copy is created 0600 (it holds patient
 * data from its first byte), then given the existing file's mode: a report kept private stays
 * private, and a new one is private.
 */
function toFile(given: string): Output {
  const name = printable(given);
  const existing = statSync(given, { throwIfNoEntry: false }); // a link followed
  if (existing?.isDirectory()) throw new OutputError(`cannot write ${name}: it is a directory`);
  const direct = existing !== undefined && !existing.isFile();
  const path = direct ? given : targetOf(given);
  const target = direct ? path : join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  const mode = !direct && existing ? existing.mode & 0o7777 : undefined;
  let done = false;
  let copy: Copy | undefined = existing?.isFIFO() ? undefined : openCopy(target, direct, mode, name);
  const opened = copy
    ? Promise.resolve()
    : openFifo(target, name, () => done).then((fd) => {
        copy = copyOn(fd, name);
      });
  const open = (): Copy => {
    if (!copy) throw new Error(`${name} is not open yet: await ready() first`);
    return copy;
  };
  const remove = (): void => {
    copy?.stream.destroy(); // closes fd
    if (!direct) rmSync(target, { force: true });
  };
  return {
    ready: () => opened,
    write: (chunks, onWritten) => open().writer.write(chunks, onWritten),
    commit: async (): Promise<void> => {
      const { stream, writer } = open();
      await writer.flush();
      stream.end();
      try {
        await once(stream, 'close');
        if (!direct) renameSync(target, path);
      } catch (error) {
        throw new OutputError(`cannot write ${name}: ${reason(error)}`);
      }
      done = true;
    },
    discard: (): void => {
      if (done) return;
      done = true;
      remove();
    },
    restartable: !direct,
    restart: (): void => {
      if (direct || done) throw new Error(`${name} cannot be written again`);
      remove();
      copy = openCopy(target, direct, mode, name);
    },
  };
}

/** The output of a run: `--out FILE` when given, else `stdout`. Throws OutputError when FILE cannot be written. */
export function openOutput(file: string | undefined, stdout: NodeJS.WritableStream): Output {
  return file === undefined ? toStream(stdout, 'standard output') : toFile(file);
}
