import { v7 } from 'uuid';

/*
 * RFC 9562 UUID version 7 ids (a 48-bit millisecond timestamp, then random bits): time-ordered, so
 * database indexes on them stay compact. Made by the `uuid` package; ids made by `uuidv7()` in one
 * process sort in creation order, also within one millisecond (its monotonic counter).
 */

/** A new UUID v7 (time-ordered). */
export function uuidv7(): string {
  return v7();
}

/**
 * @internal A UUID v7 carrying the time `ms` the caller read earlier (a message's `time`), so the
 * id and the time agree. Ids made for one millisecond this way are unique but not ordered.
 */
export function uuidv7At(ms: number): string {
  return v7({ msecs: ms });
}

/** Milliseconds since the epoch encoded in a UUID v7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
