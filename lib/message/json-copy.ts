import { types } from 'node:util';

/**
 * `JSON.parse(JSON.stringify({ data: value })).data` without making the string: the same walk as
 * `JSON.stringify` (`toJSON` called with its key, boxed primitives unwrapped, `undefined`,
 * functions and symbols left out of objects and `null` in arrays, `NaN`/`±Infinity` as `null`,
 * `-0` as `0`, a `BigInt` or a cycle a `TypeError`), building the parsed copy as it goes.
 *
 * The in-memory transport gives each subscriber its own copy of an event's payload in the shape
 * it would have after crossing a broker (dates as strings, class instances as plain objects),
 * without the cost of encoding and parsing JSON per delivery.
 */

/** Result of `jsonCopyWithSize`. */
export interface JsonCopy {
  /** What `JSON.parse(JSON.stringify({ data: value })).data` is; undefined when `value` has no JSON form. */
  value: unknown;
  /** At least the UTF-8 length of the JSON text of `value` (an upper bound, cheap to compute). */
  maxBytes: number;
  /** Deepest object or array nesting in the copy (0: a primitive, 1: a flat object). */
  depth: number;
  /** Whether the copy has an own `__proto__` key somewhere (as `JSON.parse` would make it). */
  protoKey: boolean;
}

/** State of one walk (a getter in the payload could start another walk: no module state). */
interface Walk {
  bytes: number;
  depth: number;
  protoKey: boolean;
  /** Objects being serialized, outermost first (cycle detection, as `JSON.stringify` does it). */
  stack: object[];
}

/** Marks "no JSON form here": left out of an object, `null` in an array. */
const OMIT = Symbol('omit');

// JSON text of a string is at most 6 bytes per UTF-16 unit (`\u001f`), plus its quotes; of a
// number at most 25 characters (`-0.0000012345678901234567`).
const stringBytes = (s: string): number => s.length * 6 + 2;
const NUMBER_BYTES = 25;

/** One property of the walk, `JSON.stringify`'s SerializeJSONProperty: its parsed copy, or OMIT. */
function copyProperty(walk: Walk, key: string | number, value: unknown, level: number): unknown {
  switch (typeof value) {
    case 'string':
      walk.bytes += stringBytes(value);
      return value;
    case 'number':
      walk.bytes += NUMBER_BYTES;
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : null;
    case 'boolean':
      walk.bytes += 5;
      return value;
    case 'object':
      if (value === null) {
        walk.bytes += 4;
        return null;
      }
      return copyObjectProperty(walk, key, value, level);
    case 'bigint':
      return copyObjectProperty(walk, key, value, level); // a toJSON on BigInt.prototype may apply
    default:
      return OMIT; // undefined, function, symbol
  }
}

/** An object (or bigint) property: `toJSON`, boxed primitives, then the object itself. */
function copyObjectProperty(walk: Walk, key: string | number, value: object | bigint, level: number): unknown {
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const replaced: unknown = toJSON.call(value, String(key));
    if (replaced === null || (typeof replaced !== 'object' && typeof replaced !== 'bigint')) {
      return copyProperty(walk, key, replaced, level); // a primitive: no second toJSON
    }
    value = replaced as object | bigint;
  }
  if (typeof value === 'bigint') throw new TypeError('Do not know how to serialize a BigInt');
  const proto: unknown = Object.getPrototypeOf(value);
  // boxed primitives are unwrapped by their internal slot, as JSON does (not by prototype)
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null && types.isBoxedPrimitive(value)) {
    if (types.isNumberObject(value)) return copyProperty(walk, key, Number(value), level);
    if (types.isStringObject(value)) return copyProperty(walk, key, String(value), level);
    if (types.isBooleanObject(value)) return copyProperty(walk, key, value.valueOf(), level);
    if (types.isBigIntObject(value)) throw new TypeError('Do not know how to serialize a BigInt');
    // a boxed Symbol is an ordinary object to JSON
  }
  return copyObject(walk, value, level + 1);
}

function copyObject(walk: Walk, value: object, level: number): unknown {
  if (walk.stack.includes(value)) throw new TypeError('Converting circular structure to JSON');
  walk.stack.push(value);
  if (level > walk.depth) walk.depth = level;
  let out: unknown;
  if (Array.isArray(value)) {
    const length = value.length;
    const array = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      const v = copyProperty(walk, i, value[i], level);
      if (v === OMIT) {
        walk.bytes += 4;
        array[i] = null;
      } else array[i] = v;
      walk.bytes += 1;
    }
    out = array;
  } else {
    const object: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const v = copyProperty(walk, key, (value as Record<string, unknown>)[key], level);
      if (v === OMIT) continue;
      walk.bytes += stringBytes(key) + 2;
      if (key === '__proto__') {
        // JSON.parse makes "__proto__" an own data property; an assignment would set the prototype
        walk.protoKey = true;
        Object.defineProperty(object, key, { value: v, enumerable: true, writable: true, configurable: true });
      } else object[key] = v;
    }
    out = object;
  }
  walk.bytes += 2;
  walk.stack.pop();
  return out;
}

/**
 * The JSON form of `value` as the `data` of an event (see the module comment), with an upper bound
 * of its UTF-8 size, its nesting depth and whether it has `__proto__` keys. Throws what
 * `JSON.stringify` throws (a cycle, a `BigInt`, an error from a getter or `toJSON`).
 */
export function jsonCopyWithSize(value: unknown): JsonCopy {
  const walk: Walk = { bytes: 0, depth: 0, protoKey: false, stack: [] };
  const copied = copyProperty(walk, 'data', value, 0);
  return {
    value: copied === OMIT ? undefined : copied,
    maxBytes: walk.bytes,
    depth: walk.depth,
    protoKey: walk.protoKey,
  };
}

/**
 * A deep copy of a value that is already in JSON form (what `jsonCopyWithSize` returns as `value`: plain objects,
 * arrays, strings, finite numbers, booleans, null; no cycles). Equal to `jsonCopyWithSize(value).value`, faster.
 */
export function cloneJsonValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJsonValue(value[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = cloneJsonValue((value as Record<string, unknown>)[key]);
    if (key === '__proto__') {
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else out[key] = v;
  }
  return out;
}
