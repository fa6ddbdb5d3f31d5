import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { IsInt, IsString, Min } from 'class-validator';
import {
  CommandBus,
  CommandHandler,
  EventBus,
  HandlerNotFoundError,
  InvalidConfigurationError,
  InvalidMessageError,
  Message,
  MessageContext,
  QueryBus,
  QueryHandler,
  Subscribe,
  type ICommandHandler,
  type MessageEnvelope,
  currentMessageContext,
  DeadLetterService,
} from '../../lib';
import { startApp, waitFor } from './app.helper';
import { uuidv7Time } from '../../lib/message/uuid-v7';

class CreateOrder {
  constructor(
    readonly orderId: string,
    readonly quantity: number,
  ) {}
}

@Message('PlaceOrder')
class PlaceOrder {
  @IsString() orderId!: string;
  @IsInt() @Min(1) quantity!: number;
}

@Message('OrderCreated', { version: 1 })
class OrderCreated {
  constructor(readonly orderId: string) {}
}

class GetOrder {
  constructor(readonly orderId: string) {}
}

const seen: Array<{ where: string; message?: MessageEnvelope; correlationId?: string }> = [];

@CommandHandler(CreateOrder)
class CreateOrderHandler implements ICommandHandler<CreateOrder, string> {
  constructor(
    private readonly events: EventBus,
    private readonly ctx: MessageContext,
  ) {}
  async execute(cmd: CreateOrder): Promise<string> {
    seen.push({ where: 'command', message: this.ctx.message, correlationId: this.ctx.correlationId });
    await this.events.publish(new OrderCreated(cmd.orderId));
    return `created ${cmd.orderId}`;
  }
}

@CommandHandler(PlaceOrder)
class PlaceOrderHandler {
  async execute(cmd: PlaceOrder) {
    return cmd.quantity;
  }
}

@CommandHandler('PlainCommand')
class PlainCommandHandler {
  async execute(cmd: { type: string; value: number }) {
    return cmd.value * 2;
  }
}

@QueryHandler(GetOrder)
class GetOrderHandler {
  execute(q: GetOrder) {
    return { orderId: q.orderId, status: 'created' };
  }
}

@Injectable()
class Inventory {
  @Subscribe('OrderCreated')
  async reserve(event: { orderId: string }) {
    seen.push({
      where: 'inventory',
      message: currentMessageContext()?.message,
      correlationId: currentMessageContext()?.correlationId,
    });
    expect(event.orderId).toBeDefined();
  }
}

@Injectable()
class Notifications {
  constructor(private readonly events: EventBus) {}
  @Subscribe(OrderCreated)
  async notify(event: OrderCreated) {
    seen.push({ where: 'notifications', message: currentMessageContext()?.message });
    expect(event).toBeInstanceOf(OrderCreated);
    await this.events.publish({ type: 'CustomerNotified', orderId: event.orderId });
  }
  @Subscribe('CustomerNotified')
  async audit() {
    seen.push({ where: 'audit', message: currentMessageContext()?.message });
  }
}

describe('buses through Nest DI', () => {
  beforeEach(() => (seen.length = 0));

  it('dispatches commands and queries to their one handler and returns results', async () => {
    const app = await startApp([
      CreateOrderHandler,
      GetOrderHandler,
      PlaceOrderHandler,
      PlainCommandHandler,
      Inventory,
      Notifications,
    ]);
    const commands = app.get(CommandBus);
    const queries = app.get(QueryBus);
    expect(await commands.execute(new CreateOrder('o-1', 2))).toBe('created o-1');
    expect(await queries.execute(new GetOrder('o-1'))).toEqual({ orderId: 'o-1', status: 'created' });
    expect(await commands.execute({ type: 'PlainCommand', value: 21 })).toBe(42);
    await app.close();
  });

  it('carries correlation and causation from a command to the events it causes and onwards', async () => {
    const app = await startApp([CreateOrderHandler, Inventory, Notifications]);
    await app.get(CommandBus).execute(new CreateOrder('o-2', 1), { correlationId: 'corr-123' });
    await waitFor(() => seen.some((s) => s.where === 'audit'), 'audit subscriber');
    await waitFor(() => seen.length === 4, 'all handlers');
    const command = seen.find((s) => s.where === 'command')!;
    const inventory = seen.find((s) => s.where === 'inventory')!;
    const notifications = seen.find((s) => s.where === 'notifications')!;
    const audit = seen.find((s) => s.where === 'audit')!;
    expect(command.correlationId).toBe('corr-123');
    expect(command.message?.type).toBe('CreateOrder');
    expect(inventory.message?.type).toBe('OrderCreated');
    expect(inventory.message?.correlationId).toBe('corr-123');
    expect(inventory.message?.causationId).toBe(command.message?.id);
    expect(inventory.message?.source).toBe('test');
    expect(inventory.message?.version).toBe(1);
    expect(inventory.message?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(notifications.message?.id).toBe(inventory.message?.id);
    expect(audit.message?.correlationId).toBe('corr-123');
    expect(audit.message?.causationId).toBe(inventory.message?.id);
    await app.close();
  });

  it('starts a new correlation when none is active', async () => {
    const app = await startApp([CreateOrderHandler, Inventory, Notifications]);
    await app.get(CommandBus).execute(new CreateOrder('o-3', 1));
    const command = seen.find((s) => s.where === 'command')!;
    expect(command.correlationId).toBe(command.message?.id);
    expect(command.message?.causationId).toBeUndefined();
    await waitFor(() => seen.length === 4, 'all handlers');
    await app.close();
  });

  it('rejects an invalid command with InvalidMessageError before the handler runs', async () => {
    const app = await startApp([PlaceOrderHandler]);
    const bad = Object.assign(new PlaceOrder(), { orderId: 7, quantity: 0 });
    const error = await app
      .get(CommandBus)
      .execute(bad)
      .catch((e) => e);
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect((error as InvalidMessageError).failures.map((f) => f.property).sort()).toEqual(['orderId', 'quantity']);
    expect(error.message).toContain('quantity');
    const good = Object.assign(new PlaceOrder(), { orderId: 'x', quantity: 3 });
    expect(await app.get(CommandBus).execute(good)).toBe(3);
    await app.close();
  });

  it('throws HandlerNotFoundError naming the message and the fix', async () => {
    const app = await startApp([]);
    const error = await app
      .get(CommandBus)
      .execute(new CreateOrder('x', 1))
      .catch((e) => e);
    expect(error).toBeInstanceOf(HandlerNotFoundError);
    expect(error.message).toContain('CreateOrder');
    expect(error.message).toContain('@CommandHandler');
    await expect(app.get(QueryBus).execute({ type: 'Nope' })).rejects.toThrow(/No query handler for "Nope"/);
    await app.close();
  });

  it('refuses to publish a class instance without @Message', async () => {
    const app = await startApp([]);
    await expect(app.get(EventBus).publish(new GetOrder('x'))).rejects.toThrow(/@Message\('GetOrder'\)/);
    await app.close();
  });

  it('refuses at send what every receiver would refuse: over 50 headers, a version over 1,000,000', async () => {
    const app = await startApp([]);
    const headers = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`h${i}`, 'v']));
    await expect(app.get(EventBus).publish({ type: 'Anything' }, { headers })).rejects.toThrow(
      InvalidConfigurationError,
    );
    expect(() => Message('Huge', { version: 1_000_001 })(class {})).toThrow(
      /version 1000001 must be an integer from 1/,
    );
    await app.close();
  });

  it('publishes payloads the in-memory transport copies in their JSON form: dates, deep nesting', async () => {
    const received: unknown[] = [];
    @Injectable()
    class Deep {
      @Subscribe('DeepEvent', { name: 'deep' })
      on(payload: unknown) {
        received.push(payload);
      }
    }
    const app = await startApp([Deep]);
    const nest = (levels: number) => {
      let tree: object = { leaf: true };
      for (let i = 0; i < levels; i++) tree = { a: tree };
      return tree;
    };
    // past the decoder's 64 levels (README "Limits"): dead-lettered in memory as on a broker
    await app.get(EventBus).publish({ type: 'DeepEvent', tree: nest(70) });
    await waitFor(async () => (await app.get(DeadLetterService).count()) === 1, 'the too-deep event dead-lettered');
    expect((await app.get(DeadLetterService).list())[0].error.message).toContain('JSON nested deeper than 64 levels');
    const tree = nest(60);
    const at = new Date('2026-11-27T10:00:00.000Z');
    const event = { type: 'DeepEvent', at, tree, gone: undefined };
    await app.get(EventBus).publish(event);
    event.at = new Date(0); // changes after publish do not travel
    await waitFor(() => received.length === 1, 'deep event');
    expect(received[0]).toEqual(
      JSON.parse(JSON.stringify({ type: 'DeepEvent', at: '2026-11-27T10:00:00.000Z', tree })),
    );
    expect(Object.keys(received[0] as object)).not.toContain('gone');
    await app.close();
  });

  it('gives a command an id and a time from one clock reading, made when first read in its handler', async () => {
    let read: { id: string; time: string } | undefined;
    @Message('StampedCommand')
    class StampedCommand {}
    @CommandHandler(StampedCommand)
    class StampedHandler implements ICommandHandler<StampedCommand> {
      constructor(private readonly ctx: MessageContext) {}
      async execute() {
        read = { id: this.ctx.messageId!, time: this.ctx.message!.time };
      }
    }
    const app = await startApp([StampedHandler]);
    const before = Date.now();
    await app.get(CommandBus).execute(new StampedCommand());
    const after = Date.now();
    expect(uuidv7Time(read!.id)).toBe(Date.parse(read!.time));
    expect(Date.parse(read!.time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(read!.time)).toBeLessThanOrEqual(after);
    await app.close();
  });
});
