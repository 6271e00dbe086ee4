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
  /** Writes the chunks in order, waiting when the target asks to; rejects with the first write error. */
  write(chunks: Iterable<string>): Promise<void>;
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

  async write(chunks: Iterable<string>): Promise<void> {
    for (const chunk of chunks) {
      this.check();
      if (!this.stream.write(chunk)) await this.drained();
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
    write: (chunks) => writer.write(chunks),
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

/** The file written, opened: 0600 (it holds patient data from its first byte), then given `mode` when there is one. */
function openCopy(
  target: string,
  direct: boolean,
  mode: number | undefined,
  name: string,
): { stream: WriteStream; writer: StreamWriter } {
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
  const stream: WriteStream = createWriteStream('', { fd });
  return { stream, writer: new StreamWriter(stream, name) };
}

/**
 * A regular file (existing or not) is written beside its name and renamed; anything else directly.
 * The copy is created 0600 (it holds patient data from its first byte), then given the existing
 * file's mode: a report kept private stays private, and a new one is private.
 */
function toFile(given: string): Output {
  const name = printable(given);
  const existing = statSync(given, { throwIfNoEntry: false }); // a link followed
  if (existing?.isDirectory()) throw new OutputError(`cannot write ${name}: it is a directory`);
  const direct = existing !== undefined && !existing.isFile();
  const path = direct ? given : targetOf(given);
  const target = direct ? path : join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  const mode = !direct && existing ? existing.mode & 0o7777 : undefined;
  let copy = openCopy(target, direct, mode, name);
  let done = false;
  const remove = (): void => {
    copy.stream.destroy(); // closes fd
    if (!direct) rmSync(target, { force: true });
  };
  return {
    write: (chunks) => copy.writer.write(chunks),
    commit: async (): Promise<void> => {
      await copy.writer.flush();
      copy.stream.end();
      try {
        await once(copy.stream, 'close');
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
