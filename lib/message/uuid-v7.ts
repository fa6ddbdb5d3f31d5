import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

/**
 * Generates RFC 9562 UUID version 7 strings: a 48-bit millisecond timestamp, then random bits,
 * with a 12-bit counter (seeded randomly each millisecond) so ids made in one millisecond by one
 * generator still sort in creation order. Time-ordered ids keep database indexes compact.
 */
export class UuidV7Generator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;
  private lastMs = -1;
  private counter = 0;

  /** A new UUID v7. `now` is for tests. */
  next(now: number = Date.now()): string {
    if (this.offset + 10 > POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const p = this.pool;
    const o = this.offset;
    this.offset += 10;
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = ((p[o] << 4) | (p[o + 1] >> 4)) & 0x3ff; // seed leaves room to count up
    } else {
      this.counter++;
      if (this.counter > 0xfff) {
        this.lastMs++; // borrow the next millisecond rather than lose order
        this.counter = 0;
      }
    }
    const ms = this.lastMs;
    const hi = Math.floor(ms / 0x1000000); // top 24 bits of 48
    const lo = ms % 0x1000000; // low 24 bits
    const c = this.counter;
    return (
      HEX[(hi >>> 16) & 0xff] +
      HEX[(hi >>> 8) & 0xff] +
      HEX[hi & 0xff] +
      HEX[(lo >>> 16) & 0xff] +
      '-' +
      HEX[(lo >>> 8) & 0xff] +
      HEX[lo & 0xff] +
      '-' +
      HEX[0x70 | ((c >>> 8) & 0x0f)] +
      HEX[c & 0xff] +
      '-' +
      HEX[0x80 | (p[o + 2] & 0x3f)] +
      HEX[p[o + 3]] +
      '-' +
      HEX[p[o + 4]] +
      HEX[p[o + 5]] +
      HEX[p[o + 6]] +
      HEX[p[o + 7]] +
      HEX[p[o + 8]] +
      HEX[p[o + 9]]
    );
  }
}

const defaultGenerator = new UuidV7Generator();

/** A new UUID v7 (time-ordered). */
export function uuidv7(): string {
  return defaultGenerator.next();
}

/** Milliseconds since the epoch encoded in a UUID v7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
