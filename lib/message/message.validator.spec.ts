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
