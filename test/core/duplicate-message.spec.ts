import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { InvalidConfigurationError, Message, Subscribe } from '../../lib';
import { startApp } from './app.helper';

// Own file: a duplicate declaration is process-wide (as the @Message metadata is), so after it
// every bootstrap in this file fails, on purpose.

@Message('dup.OrderPlaced')
class OrderPlaced {
  constructor(readonly id: string) {}
}

@Message('dup.OrderPlaced', { version: 2 })
class OrderPlacedV2 {
  constructor(
    readonly id: string,
    readonly currency: string,
  ) {}
}

@Injectable()
class Orders {
  @Subscribe(OrderPlaced)
  on(): void {}
}

describe('@Message type names', () => {
  it('two versions of one type are two declarations, not a duplicate', async () => {
    expect(OrderPlacedV2.name).toBe('OrderPlacedV2');
    const app = await startApp([Orders]);
    await app.close();
  });

  it('two classes declaring the same type and version fail bootstrap, naming both', async () => {
    @Message('dup.OrderPlaced')
    class OrderPlacedCopy {
      constructor(readonly id: string) {}
    }
    expect(OrderPlacedCopy.name).toBe('OrderPlacedCopy');
    const error = await startApp([Orders]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    expect((error as Error).message).toContain(
      "@Message('dup.OrderPlaced') is declared by both OrderPlaced and OrderPlacedCopy",
    );
  });
});
