/**
 * `JSON.parse(JSON.stringify(value))` without making the string, for the values events are made
 * of; anything unusual takes the real round trip, so the result is always the same.
 *
 * The in-memory transport gives each subscriber its own copy of an event's payload in the shape
 * it would have after crossing a broker (dates as strings, `undefined` fields gone, class
 * instances as plain objects), without the cost of encoding and parsing JSON per delivery.
 */

/** Nesting beyond which the real round trip decides (and reports a cycle as JSON does). */
const MAX_DEPTH = 64;

/** `{ value, bytes }` result of `jsonCopyWithSize`. */
export interface JsonCopy {
  /** What `JSON.parse(JSON.stringify(value))` returns; undefined when `value` has no JSON form. */
  value: unknown;
  /** At least the length of `JSON.stringify(value)` in UTF-8 bytes (an upper bound, cheap to compute). */
  maxBytes: number;
  /** Whether the copy went through a real JSON round trip (then it may hold own `__proto__` keys). */
  parsed: boolean;
}

/** Thrown inside the walk when a subtree needs the real round trip. */
class NeedsRoundTrip {}
const NEEDS_ROUND_TRIP = new NeedsRoundTrip();

/** Running size bound of the walk (module state: the walk is synchronous). */
let bytes = 0;

function roundTrip(value: unknown): JsonCopy {
  const json = JSON.stringify(value) as string | undefined;
  return {
    value: json === undefined ? undefined : JSON.parse(json),
    maxBytes: json === undefined ? 0 : Buffer.byteLength(json, 'utf8'),
    parsed: true,
  };
}

// A JSON string is at most 6 bytes per UTF-16 unit (`\u001f`), plus its quotes.
function stringBytes(s: string): number {
  return s.length * 6 + 2;
}

function copy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      bytes += stringBytes(value);
      return value;
    case 'number':
      bytes += 24;
      // JSON has no NaN, Infinity or -0
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : null;
    case 'boolean':
      bytes += 5;
      return value;
    case 'object':
      break;
    default:
      // undefined, functions, symbols (left out or null, by position) and bigint (an error): the real thing
      throw NEEDS_ROUND_TRIP;
  }
  if (value === null) {
    bytes += 4;
    return null;
  }
  if (depth >= MAX_DEPTH) throw NEEDS_ROUND_TRIP;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      bytes += 1;
      out[i] = copy(value[i], depth + 1);
    }
    bytes += 2;
    return out;
  }
  // toJSON (Date, Buffer, user classes) and boxed primitives change the form: the real thing
  if (
    typeof (value as { toJSON?: unknown }).toJSON === 'function' ||
    value instanceof Number ||
    value instanceof String ||
    value instanceof Boolean ||
    value instanceof BigInt
  ) {
    throw NEEDS_ROUND_TRIP;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    // an own "__proto__" key cannot be assigned as data; JSON.parse makes it an own property
    if (key === '__proto__') throw NEEDS_ROUND_TRIP;
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    bytes += stringBytes(key) + 2;
    out[key] = copy(v, depth + 1);
  }
  bytes += 2;
  return out;
}

/**
 * `JSON.parse(JSON.stringify(value))`, with an upper bound of the JSON's UTF-8 size. Throws what
 * `JSON.stringify` throws (a cycle, a `BigInt`).
 */
export function jsonCopyWithSize(value: unknown): JsonCopy {
  const outer = bytes; // a getter in the payload could itself copy something
  bytes = 0;
  try {
    const copied = copy(value, 0);
    return { value: copied, maxBytes: bytes, parsed: false };
  } catch (error) {
    if (error !== NEEDS_ROUND_TRIP) throw error;
    return roundTrip(value);
  } finally {
    bytes = outer;
  }
}

/** `JSON.parse(JSON.stringify(value))` (see `jsonCopyWithSize`). */
export function jsonCopy(value: unknown): unknown {
  return jsonCopyWithSize(value).value;
}
