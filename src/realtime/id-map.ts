/**
 * A map keyed by database ids (positive int32) in typed arrays, for the gateway's per-connection
 * bookkeeping (socket-table.ts, local-members.ts). A JavaScript Map or Set costs 100–130 bytes per entry in Bun
 * (measured: Map<number, number> 131 B, Set<number> 106 B), which made them a large part of an
 * idle socket's memory; these cost 8–16 bytes per entry.
 */

type FlatArray = Int32Array | Float64Array | Uint8Array;

/** A copy of `a` with room for `size` entries (the rest zero), for tables that grow by doubling. */
export function grown<T extends FlatArray>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

const FREE = 0;
const MIN_CAPACITY = 8;

/** id → int32 value; open addressing with linear probing. Ids must be positive. */
export class IdMap {
  private keys: Int32Array;
  private values: Int32Array;
  private bits: number;
  private count = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.bits = Math.max(3, Math.ceil(Math.log2(capacity)));
    this.keys = new Int32Array(1 << this.bits);
    this.values = new Int32Array(1 << this.bits);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.keys[this.find(id)] === id;
  }

  /** The value of `id`, or `missing`. */
  get(id: number, missing = -1): number {
    const i = this.find(id);
    return this.keys[i] === id ? (this.values[i] as number) : missing;
  }

  set(id: number, value: number): void {
    if (!(id > 0 && id <= 0x7fffffff)) throw new RangeError(`IdMap keys are positive int32 ids, got ${id}`);
    let i = this.find(id);
    if (this.keys[i] !== id) {
      if ((this.count + 1) * 2 > this.keys.length) {
        this.resize(this.bits + 1);
        i = this.find(id);
      }
      this.keys[i] = id;
      this.count++;
    }
    this.values[i] = value;
  }

  delete(id: number): boolean {
    let i = this.find(id);
    if (this.keys[i] !== id) return false;
    // Backward-shift deletion: later entries of the probe run move up, so no tombstones.
    const mask = this.keys.length - 1;
    for (let j = (i + 1) & mask; this.keys[j] !== FREE; j = (j + 1) & mask) {
      const home = this.home(this.keys[j] as number);
      if (((j - home) & mask) >= ((j - i) & mask)) {
        this.keys[i] = this.keys[j] as number;
        this.values[i] = this.values[j] as number;
        i = j;
      }
    }
    this.keys[i] = FREE;
    this.count--;
    if (this.bits > 3 && this.count * 8 < this.keys.length) this.resize(this.bits - 1);
    return true;
  }

  /** The ids, in no particular order (a copy: the map may change while it is used). */
  ids(): number[] {
    const out: number[] = [];
    for (const k of this.keys) if (k !== FREE) out.push(k);
    return out;
  }

  /** Values of every entry (no copy: the map must not change during the call). */
  forEachValue(f: (value: number) => void): void {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== FREE) f(this.values[i] as number);
  }

  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The cell holding `id`, or the free cell where it would go. */
  private find(id: number): number {
    const mask = this.keys.length - 1;
    let i = this.home(id);
    while (this.keys[i] !== FREE && this.keys[i] !== id) i = (i + 1) & mask;
    return i;
  }

  private resize(bits: number): void {
    const keys = this.keys;
    const values = this.values;
    this.bits = bits;
    this.keys = new Int32Array(1 << bits);
    this.values = new Int32Array(1 << bits);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k === FREE) continue;
      const j = this.find(k);
      this.keys[j] = k;
      this.values[j] = values[i] as number;
    }
  }
}
