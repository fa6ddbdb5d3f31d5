import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 16384; // one randomFillSync call per ~1600 ids: the call itself costs ~2 µs
const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

/**
 * Generates RFC 9562 UUID version 7 strings: a 48-bit millisecond timestamp, then random bits,
 * with a 12-bit counter (seeded randomly each millisecond) so ids made in one millisecond by one
 * generator still sort in creation order. Time-ordered ids keep database indexes compact.
 *
 * Hot path: the timestamp part is formatted once per millisecond and the random pool is
 * hex-encoded once per refill, so one id is a few string joins.
 */
export class UuidV7Generator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  /** `pool` as hex, two characters per byte. */
  private poolHex = '';
  private offset = POOL_BYTES;
  private lastMs = -1;
  private counter = 0;
  /** `xxxxxxxx-xxxx-` for `lastMs`. */
  private timePrefix = '';

  /** A new UUID v7. `now` is for tests. */
  next(now: number = Date.now()): string {
    const o = this.take();
    if (now > this.lastMs) {
      this.setTime(now);
      this.counter = seed(this.pool, o);
    } else {
      this.counter++;
      if (this.counter > 0xfff) {
        this.setTime(this.lastMs + 1); // borrow the next millisecond rather than lose order
        this.counter = 0;
      }
    }
    return this.format(this.timePrefix, this.counter, o);
  }

  /**
   * A UUID v7 carrying the time `ms` read earlier (when a message was created; its id is made
   * on first use). Same as `next(ms)` unless this generator already made an id for a later
   * millisecond: then the id still carries `ms`, with a random counter, and the generator's own
   * sequence is left alone (so the id sorts by its time, before the ids made since).
   */
  at(ms: number): string {
    if (ms >= this.lastMs) return this.next(ms);
    const o = this.take();
    return this.format(timePrefixOf(ms), seed(this.pool, o), o);
  }

  /** Offset of 10 unused random bytes in `pool` (refilled when needed). */
  private take(): number {
    if (this.offset + 10 > POOL_BYTES) {
      randomFillSync(this.pool);
      this.poolHex = this.pool.toString('hex');
      this.offset = 0;
    }
    const o = this.offset;
    this.offset += 10;
    return o;
  }

  /** The id: `prefix` (time), version and 12-bit `counter`, then variant and random bytes o + 2 .. o + 9. */
  private format(prefix: string, counter: number, o: number): string {
    const h = o * 2; // byte o is poolHex[h, h + 2)
    return (
      prefix +
      HEX[0x70 | ((counter >>> 8) & 0x0f)] +
      HEX[counter & 0xff] +
      '-' +
      HEX[0x80 | (this.pool[o + 2] & 0x3f)] +
      this.poolHex.slice(h + 6, h + 8) + // byte o + 3
      '-' +
      this.poolHex.slice(h + 8, h + 20) // bytes o + 4 .. o + 9
    );
  }

  private setTime(ms: number): void {
    this.lastMs = ms;
    this.timePrefix = timePrefixOf(ms);
  }
}

/** A random 12-bit counter seed from bytes o, o + 1, low enough to leave room to count up. */
function seed(pool: Buffer, o: number): number {
  return ((pool[o] << 4) | (pool[o + 1] >> 4)) & 0x3ff;
}

/** `xxxxxxxx-xxxx-`: the 48-bit millisecond timestamp `ms` in UUID layout. */
function timePrefixOf(ms: number): string {
  const hi = Math.floor(ms / 0x1000000); // top 24 bits of 48
  const lo = ms % 0x1000000; // low 24 bits
  return (
    HEX[(hi >>> 16) & 0xff] +
    HEX[(hi >>> 8) & 0xff] +
    HEX[hi & 0xff] +
    HEX[(lo >>> 16) & 0xff] +
    '-' +
    HEX[(lo >>> 8) & 0xff] +
    HEX[lo & 0xff] +
    '-'
  );
}

const defaultGenerator = new UuidV7Generator();

/** A new UUID v7 (time-ordered). */
export function uuidv7(): string {
  return defaultGenerator.next();
}

/** @internal A new UUID v7 from the shared generator, for a caller that already read the clock. */
export function uuidv7At(now: number): string {
  return defaultGenerator.next(now);
}

/** @internal A UUID v7 from the shared generator for the earlier instant `ms` (see `UuidV7Generator.at`). */
export function uuidv7For(ms: number): string {
  return defaultGenerator.at(ms);
}

/** Milliseconds since the epoch encoded in a UUID v7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
