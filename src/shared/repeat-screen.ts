/**
 * A cheap answer to "does any id occur twice?" over many freshly parsed resources, exact when it
 * says no: for where the usual answer is no and a Set of every id would cost more than the work
 * around it (Observation versions in the engine, the union of searches in the FHIR gateway).
 */

/**
 * Tells whether any id occurs twice, fed the ids one by one, within a pass that reads the items
 * anyway (a pass of its own over 50,000 freshly parsed Observations cost a sixth of the engine's
 * time, in cache misses). A Bloom filter over a hash of each id, then an exact check of
 * only the ids whose hash came up twice: a Set of 50,000 ids cost more than the rest of the reading
 * of each Observation together.
 */
export class RepeatScreen {
  readonly #mask: number;
  readonly #filter: Int32Array;
  readonly #hashes: Int32Array;
  #suspects: Set<number> | undefined;
  /** An id that is not a string (not what the screen lets through): decided the exact way. */
  #odd = false;

  constructor(n: number) {
    let bits = 1024;
    while (bits < n * 16) bits *= 2;
    this.#mask = bits - 1;
    this.#filter = new Int32Array(bits >>> 5);
    this.#hashes = new Int32Array(n);
  }

  /** The id of the i-th item (any value: one that is not a string sends the answer to the exact check). */
  add(i: number, id: unknown): void {
    if (!id) return;
    if (typeof id !== 'string') {
      this.#odd = true;
      return;
    }
    const h = hashOf(id);
    this.#hashes[i] = h;
    const mask = this.#mask;
    const filter = this.#filter;
    const a = h & mask;
    const b = ((h >>> 15) | (h << 17)) & mask;
    const seenA = (filter[a >>> 5] as number) & (1 << (a & 31));
    const seenB = (filter[b >>> 5] as number) & (1 << (b & 31));
    if (seenA !== 0 && seenB !== 0) (this.#suspects ??= new Set()).add(h);
    filter[a >>> 5] = (filter[a >>> 5] as number) | (1 << (a & 31));
    filter[b >>> 5] = (filter[b >>> 5] as number) | (1 << (b & 31));
  }

  /**
   * False when no id added occurs twice; true when one may. `idAt(i)` gives the id of the i-th item
   * again, read only for the few whose hash came up twice.
   */
  mayRepeat(idAt: (i: number) => unknown): boolean {
    if (this.#odd) return true;
    const suspects = this.#suspects;
    if (!suspects) return false;
    // Every pair of equal ids has one hash, and its second member was flagged: compare those exactly.
    const candidates = new Set<string>();
    for (let i = 0; i < this.#hashes.length; i++) {
      if (!suspects.has(this.#hashes[i] as number)) continue; // the item itself left untouched
      const id = idAt(i);
      if (typeof id !== 'string' || !id) continue;
      const size = candidates.size;
      if (candidates.add(id).size === size) return true;
    }
    return false;
  }
}

/**
 * FNV-1a over the length and the last 16 UTF-16 code units: ids of one record differ at their end
 * (counters, UUIDs), and a collision only sends an id to the exact check.
 */
function hashOf(text: string): number {
  let h = Math.imul(0x811c9dc5 ^ text.length, 0x01000193);
  for (let i = Math.max(0, text.length - 16); i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}
