/**
 * Reading a file someone named (a hospital's thresholds or local codes, a Bundle given to the CLI):
 * only a regular file, only up to a size. A FIFO would block the read until a writer came, and
 * `/dev/zero` or `/dev/urandom` would fill memory before any parser could refuse them.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

/** Why a file was not read: `not a regular file`, `larger than N MB`, or the system's code (ENOENT, EACCES…). */
export class FileReadError extends Error {}

/** The file is larger than the bound it is read within. */
export class FileTooLargeError extends FileReadError {}

/** The bytes of `path` when it is a regular file of at most `maxBytes`; else throws FileReadError. */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new FileReadError((error as NodeJS.ErrnoException).code ?? 'cannot be opened');
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new FileReadError('not a regular file');
    if (stat.size > maxBytes) throw new FileTooLargeError(`larger than ${formatBytes(maxBytes)}`);
    const bytes = readFileSync(fd);
    // A file that grew between the check and the read is held to the same bound.
    if (bytes.length > maxBytes) throw new FileTooLargeError(`larger than ${formatBytes(maxBytes)}`);
    return bytes;
  } catch (error) {
    if (error instanceof FileReadError) throw error;
    throw new FileReadError((error as NodeJS.ErrnoException).code ?? 'cannot be read');
  } finally {
    closeSync(fd);
  }
}

/** `8 MB` for whole mebibytes, else `N bytes`. */
export function formatBytes(n: number): string {
  return n % 1_048_576 === 0 ? `${n / 1_048_576} MB` : `${n} bytes`;
}
