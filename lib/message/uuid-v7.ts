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
    if (this.offset + 10 > POOL_BYTES) {
      randomFillSync(this.pool);
      this.poolHex = this.pool.toString('hex');
      this.offset = 0;
    }
    const p = this.pool;
    const o = this.offset;
    this.offset += 10;
    if (now > this.lastMs) {
      this.setTime(now);
      this.counter = ((p[o] << 4) | (p[o + 1] >> 4)) & 0x3ff; // seed leaves room to count up
    } else {
      this.counter++;
      if (this.counter > 0xfff) {
        this.setTime(this.lastMs + 1); // borrow the next millisecond rather than lose order
        this.counter = 0;
      }
    }
    const c = this.counter;
    const h = o * 2; // byte o is poolHex[h, h + 2)
    return (
      this.timePrefix +
      HEX[0x70 | ((c >>> 8) & 0x0f)] +
      HEX[c & 0xff] +
      '-' +
      HEX[0x80 | (p[o + 2] & 0x3f)] +
      this.poolHex.slice(h + 6, h + 8) + // byte o + 3
      '-' +
      this.poolHex.slice(h + 8, h + 20) // bytes o + 4 .. o + 9
    );
  }

  private setTime(ms: number): void {
    this.lastMs = ms;
    const hi = Math.floor(ms / 0x1000000); // top 24 bits of 48
    const lo = ms % 0x1000000; // low 24 bits
    this.timePrefix =
      HEX[(hi >>> 16) & 0xff] +
      HEX[(hi >>> 8) & 0xff] +
      HEX[hi & 0xff] +
      HEX[(lo >>> 16) & 0xff] +
      '-' +
      HEX[(lo >>> 8) & 0xff] +
      HEX[lo & 0xff] +
      '-';
  }
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

/** Milliseconds since the epoch encoded in a UUID v7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
