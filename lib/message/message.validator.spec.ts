import 'reflect-metadata';
import { IsInt, IsString, Min, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { MessageValidator } from './message.validator';
import { InvalidMessageError } from '../errors/invalid-message.error';
import { MalformedMessageError } from '../errors/malformed-message.error';

class Line {
  @IsString() sku!: string;
  @IsInt() @Min(1) quantity!: number;
}

class OrderPlaced {
  @IsString() orderId!: string;
  @ValidateNested({ each: true }) @Type(() => Line) lines!: Line[];
}

describe('MessageValidator.materialize', () => {
  const validator = new MessageValidator();

  it('rebuilds and validates a received payload, nested classes included', async () => {
    const ok = await validator.materialize('OrderPlaced', OrderPlaced, {
      orderId: 'o',
      lines: [{ sku: 'a', quantity: 1 }],
    });
    expect(ok).toBeInstanceOf(OrderPlaced);
    expect((ok as OrderPlaced).lines[0]).toBeInstanceOf(Line);
    await expect(
      Promise.resolve(
        validator.materialize('OrderPlaced', OrderPlaced, { orderId: 'o', lines: [{ sku: 'a', quantity: 0 }] }),
      ),
    ).rejects.toThrow(InvalidMessageError);
  });

  it.each([
    [{ orderId: 7, lines: [], constructor: {} }],
    [{ orderId: 7, lines: [{ sku: 1, quantity: -1, constructor: { name: 'x' } }] }],
    [{ orderId: 7, lines: [], prototype: {} }],
  ])('refuses a payload whose keys would shadow the class (validation bypass) %#', async (data) => {
    let error: unknown;
    try {
      await validator.materialize('OrderPlaced', OrderPlaced, data);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MalformedMessageError);
  });
});

describe('MessageValidator.materialize without class-transformer metadata', () => {
  const validator = new MessageValidator();
  const { plainToInstance } = jest.requireActual<typeof import('class-transformer')>('class-transformer');

  class Base {
    kind = 'base';
    describe(): string {
      return this.kind;
    }
  }
  class Shipped extends Base {
    constructor(
      readonly orderId?: string,
      readonly carrier?: string,
    ) {
      super();
    }
    onTime = (): boolean => true;
    get label(): string {
      return `${this.orderId}/${this.carrier}`;
    }
    set note(_v: string) {}
  }
  class Plain {
    a!: number;
  }

  // each payload as a fresh JSON parse, as the consumer pipeline hands it over
  const payloads: unknown[] = [
    { orderId: 'o-1', carrier: 'ups' },
    { orderId: 'o-1', extra: { nested: [1, { deep: true }], n: null }, list: [[1, 2], ['a']] },
    { orderId: 'o-1', kind: 'override' },
    { orderId: 'o-1', label: 'ignored getter', describe: 'not a method', onTime: false, note: 'setter' },
    { orderId: 'o-1', toString: 'x', hasOwnProperty: 1 },
    { orderId: 'o-1', nested: { toString: 'dropped by class-transformer', valueOf: 2, keep: 3 } },
    { orderId: 'o-1', items: [{ isPrototypeOf: 1, ok: 2 }] },
    {},
  ];

  it.each(payloads.map((p) => [p]))('rebuilds exactly as plainToInstance would %#', (payload) => {
    for (const cls of [Shipped, Plain]) {
      const ours = validator.materialize('T', cls, JSON.parse(JSON.stringify(payload)), true) as object;
      const theirs = plainToInstance(cls as never, JSON.parse(JSON.stringify(payload))) as object;
      expect(Object.getPrototypeOf(ours)).toBe(cls.prototype);
      expect(Object.keys(ours)).toEqual(Object.keys(theirs));
      expect(JSON.parse(JSON.stringify(ours))).toEqual(JSON.parse(JSON.stringify(theirs)));
      if (ours instanceof Shipped) expect(ours.onTime()).toBe(true);
    }
  });

  it('skips class-transformer only where it would change nothing', () => {
    const transformer = jest.requireActual<typeof import('class-transformer')>('class-transformer');
    const spy = jest.spyOn(transformer, 'plainToInstance');
    try {
      validator.materialize('T', Shipped, { orderId: 'o-1', extra: { nested: [1] } }, true);
      expect(spy).not.toHaveBeenCalled();
      validator.materialize('T', Shipped, { orderId: 'o-1', label: 'getter' }, true);
      validator.materialize('T', Shipped, { orderId: 'o-1', nested: { toString: 'x' } }, true);
      validator.materialize('T', Shipped, { orderId: 'o-1', onTime: 'own function field' }, true);
      validator.materialize('OrderPlaced', OrderPlaced, { orderId: 'o', lines: [] }, true);
      validator.materialize('T', Shipped, { orderId: 'o-1' }); // not fresh (an upcaster's object): copied
      expect(spy).toHaveBeenCalledTimes(5);
    } finally {
      spy.mockRestore();
    }
  });

  it('still uses class-transformer when the class has @Type and friends', async () => {
    const built = (await validator.materialize('OrderPlaced', OrderPlaced, {
      orderId: 'o',
      lines: [{ sku: 'a', quantity: 1 }],
    })) as OrderPlaced;
    expect(built.lines[0]).toBeInstanceOf(Line);
  });
});
