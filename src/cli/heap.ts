/**
 * What the CLI takes on within the heap of the thread it runs in: V8's heap limit, which Node's
 * `--max-old-space-size` sets (from the machine's memory by default: 4 GB on most). A thread that
 * exhausts it dies; the main thread's death ends the process (V8 aborts it: no cleanup, no report),
 * a worker's costs the patient it was assessing, after V8 has spent its last seconds collecting (a
 * 189 MB line of `{},` took 254 s and 8.9 GB of RSS to kill a worker with a 4 GB heap).
 */
import { getHeapStatistics } from 'node:v8';

/** The heap limit of this thread, in bytes. */
export function heapLimit(): number {
  return getHeapStatistics().heap_size_limit;
}

/** The heap limit of this thread, in MB, as messages give it. */
export function heapMb(): number {
  return Math.round(heapLimit() / 1_048_576);
}

/**
 * The most bytes of lines the main thread assesses a patient with: a small part of its heap. Parsed,
 * JSON takes up to some 16 times its bytes (a line of `{},` repeated); real records are a few MB.
 * Larger patients go to a worker.
 */
export function mainThreadMaxBytes(): number {
  return heapLimit() / 64;
}

/**
 * The most JSON values (jsonValueCount, src/fhir/json-text.ts) one thread parses at once: one
 * patient's lines, or one line the reader parses to find its patient. Parsed, a JSON value takes
 * some 100 to 140 bytes of heap (measured: 5 M values of `{},` took the service 624 MB of RSS, a
 * 20,000-Observation prefetch of 1.16 M values 160 MB), so this keeps a parse to about half the heap:
 * 16.7 M values for a 4 GB heap, where a year of labs (some 5,000 Observations) holds about 0.3 M.
 * Counting costs about 1 ms per MB, and only text longer than the cap is counted (text cannot hold
 * more values than characters).
 */
export function maxJsonValues(): number {
  return Math.floor(heapLimit() / 256);
}
