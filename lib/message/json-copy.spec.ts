import * as vm from 'node:vm';
import { cloneJsonValue, jsonCopyWithSize } from './json-copy';

const jsonCopy = (value: unknown): unknown => jsonCopyWithSize(value).value;

/** What the copy must always equal: the payload as the `data` of an encoded event, parsed back. */
function roundTrip(value: unknown): unknown {
  return (JSON.parse(JSON.stringify({ data: value })) as { data?: unknown }).data;
}

class Money {
  constructor(
    readonly amount: number,
    readonly currency: string,
  ) {}
  format(): string {
    return `${this.amount} ${this.currency}`;
  }
}

class WithToJson {
  toJSON(): unknown {
    return { replaced: true };
  }
}

class KeyedToJson {
  toJSON(key: string): unknown {
    return `called for ${key}`;
  }
}

class ArrayWithToJson extends Array<number> {
  toJSON(): unknown {
    return 'array replaced';
  }
}

class WithGetter {
  secret = 1;
  get computed(): number {
    return 2;
  }
}

describe('jsonCopy', () => {
  const values: Array<[string, unknown]> = [
    ['flat object', { orderId: 'o-1', amount: 12.5, paid: true, note: null }],
    ['class instance', new Money(10, 'EUR')],
    ['nested', { a: { b: [1, 'x', { c: [[]] }] }, d: [] }],
    ['undefined fields and functions left out', { a: undefined, b: () => 1, c: Symbol('s'), d: 1 }],
    ['undefined, functions, symbols in arrays become null', [undefined, () => 1, Symbol('s'), 2]],
    ['sparse array', [1, , 3]],
    ['NaN, Infinity, -0', { a: NaN, b: -Infinity, c: -0, d: [Infinity, -0] }],
    ['Date', { at: new Date('2026-11-27T10:00:00.000Z') }],
    ['Buffer', { raw: Buffer.from('hi') }],
    ['toJSON', { x: new WithToJson() }],
    ['toJSON gets its key (data at the top)', new KeyedToJson()],
    ['toJSON gets its key (nested)', { a: new KeyedToJson(), list: [new KeyedToJson()] }],
    ['array with toJSON', { a: Object.assign([1], { toJSON: () => 'x' }), b: ArrayWithToJson.from([1]) }],
    ['boxed primitives from another realm', vm.runInNewContext('({ n: new Number(5), s: new String("ab") })')],
    ['boxed Symbol is an object', { s: Object(Symbol('s')) }],
    ['numbers with the longest JSON form', [-1 / 700000, -0.0000014285714285714286, -1.7976931348623157e308]],
    ['getter on the prototype left out, own fields kept', new WithGetter()],
    ['Map, Set, RegExp, Error become {}', { m: new Map([[1, 2]]), s: new Set([1]), r: /x/, e: new Error('boom') }],
    ['typed array', { t: new Uint8Array([1, 2]) }],
    ['boxed primitives', { n: new Number(1), s: new String('ab'), b: new Boolean(false) }],
    ['integer-like keys keep JSON order', { b: 1, 2: 'two', a: 2, 1: 'one' }],
    ['strings with quotes, control characters, lone surrogates', { s: 'a"b\\c\n\u0001\ud800' }],
    ['own __proto__ key', JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')],
    ['null prototype object', Object.assign(Object.create(null), { a: 1 })],
    ['top-level primitives', 'text'],
    ['top-level undefined', undefined],
    ['top-level function', () => 1],
    ['deep nesting', JSON.parse('['.repeat(100) + ']'.repeat(100))],
  ];

  it.each(values)('equals JSON.parse(JSON.stringify(x)): %s', (_name, value) => {
    const copied = jsonCopy(value);
    const expected = roundTrip(value);
    expect(copied).toStrictEqual(expected);
    if (copied !== null && typeof copied === 'object')
      expect(Object.keys(copied)).toEqual(Object.keys(expected as object));
  });

  it.each(values)('cloneJsonValue copies what jsonCopy made, equal and unshared: %s', (_name, value) => {
    const snapshot = jsonCopy(value);
    const clone = cloneJsonValue(snapshot);
    expect(clone).toStrictEqual(snapshot);
    if (snapshot !== null && typeof snapshot === 'object') {
      expect(clone).not.toBe(snapshot);
      expect(Object.keys(clone as object)).toEqual(Object.keys(snapshot));
    }
  });

  it('gives -0 as 0, as JSON does', () => {
    expect(Object.is((jsonCopy({ z: -0 }) as { z: number }).z, 0)).toBe(true);
  });

  it('copies: nothing is shared with the original', () => {
    const original = { a: { b: [1, { c: 2 }] } };
    const copied = jsonCopy(original) as typeof original;
    (copied.a.b[1] as { c: number }).c = 99;
    expect((original.a.b[1] as { c: number }).c).toBe(2);
  });

  it('keeps an own __proto__ key as data, never as a prototype', () => {
    const copied = jsonCopy(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copied)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(copied, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('throws what JSON.stringify throws: a cycle, a BigInt', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => jsonCopy(cyclic)).toThrow(TypeError);
    expect(() => jsonCopy({ n: 10n })).toThrow(TypeError);
  });

  it('reads a getter once, as JSON.stringify does', () => {
    let reads = 0;
    const value = {
      get g() {
        return ++reads;
      },
      at: new Date(0),
    };
    expect(jsonCopy(value)).toEqual({ g: 1, at: '1970-01-01T00:00:00.000Z' });
    expect(reads).toBe(1);
  });

  it('reports nesting depth and __proto__ keys', () => {
    expect(jsonCopyWithSize({ a: { b: [1] } })).toMatchObject({ depth: 3, protoKey: false });
    expect(jsonCopyWithSize(JSON.parse('{"a": [{"__proto__": 1}]}'))).toMatchObject({ depth: 3, protoKey: true });
    expect(jsonCopyWithSize('flat')).toMatchObject({ depth: 0, protoKey: false });
  });

  it('bounds the UTF-8 size of the JSON from above', () => {
    for (const [, value] of values) {
      const json = JSON.stringify(value) as string | undefined;
      const { maxBytes } = jsonCopyWithSize(value);
      expect(maxBytes).toBeGreaterThanOrEqual(json === undefined ? 0 : Buffer.byteLength(json, 'utf8'));
    }
    const big = {
      text: 'é'.repeat(10_000),
      list: Array.from({ length: 1000 }, (_, i) => ({ i })),
      numbers: new Array(10_000).fill(-1 / 700000),
      control: '\u0001'.repeat(1000),
    };
    expect(jsonCopyWithSize(big).maxBytes).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(big)));
  });
});
