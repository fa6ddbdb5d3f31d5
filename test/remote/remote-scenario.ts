/**
 * Two services exchanging a routed command and routed queries: the same scenario runs in memory
 * (remote.in-memory.spec.ts) and over RabbitMQ with the PostgreSQL outbox (remote.rabbitmq.spec.ts).
 * The sender's code is the single-service code: `commandBus.execute(new ShipOrder(...))`.
 */
import 'reflect-metadata';
import { Injectable, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { IsPositive, IsString } from 'class-validator';
import {
  Command,
  CommandBus,
  CommandHandler,
  EventBus,
  Message,
  MessageContext,
  MessagingModule,
  PermanentMessageError,
  Query,
  QueryBus,
  QueryHandler,
  Subscribe,
  type MessagingModuleOptions,
} from '../../lib';

@Message('remote.ShipOrder')
export class ShipOrder extends Command<void> {
  @IsString() orderId!: string;
  @IsPositive() quantity!: number;
  constructor(orderId: string, quantity: number) {
    super();
    this.orderId = orderId;
    this.quantity = quantity;
  }
}

@Message('remote.GetStock')
export class GetStock extends Query<{ sku: string; available: number }> {
  @IsString() sku!: string;
  constructor(sku: string) {
    super();
    this.sku = sku;
  }
}

@Message('remote.OrderPlaced')
export class OrderPlaced {
  constructor(readonly orderId: string) {}
}

/** The error the stock handler throws for an unknown SKU. */
export class StockUnknownError extends Error {
  constructor(sku: string) {
    super(`no stock record for ${sku}`);
    this.name = 'StockUnknownError';
  }
}

/** What a handler saw. */
export interface Seen {
  orderId: string;
  service: string;
  /** Which app instance of the service. */
  instance: string;
  kind?: string;
  messageId?: string;
  correlationId?: string;
  causationId?: string;
  attempt?: number;
}

/** Shared log of handled commands and answered queries (handlers of every app write here). */
export const seen: { commands: Seen[]; queries: Seen[] } = { commands: [], queries: [] };

/** Orders whose "poison" command the handler accepts again (healed before a replay). */
export const healed = new Set<string>();

/** The receiving service's handlers, new classes per app instance (`instance` names it in `seen`). */
export function shippingHandlers(service: string, instance: string): Type[] {
  @CommandHandler(ShipOrder)
  class ShipOrderHandler {
    constructor(private readonly ctx: MessageContext) {}
    async execute(command: ShipOrder): Promise<void> {
      seen.commands.push({
        orderId: command.orderId,
        service,
        instance,
        kind: this.ctx.subscriber,
        messageId: this.ctx.messageId,
        correlationId: this.ctx.correlationId,
        causationId: this.ctx.causationId,
        attempt: this.ctx.attempt,
      });
      if (!(command instanceof ShipOrder)) throw new Error('not rebuilt as a ShipOrder');
      if (command.orderId.startsWith('flaky') && this.ctx.attempt === 1) throw new Error('carrier down');
      if (command.orderId.startsWith('poison') && !healed.has(command.orderId)) {
        throw new PermanentMessageError(`no carrier serves ${command.orderId}`);
      }
    }
  }

  @QueryHandler(GetStock)
  class GetStockHandler {
    constructor(private readonly ctx: MessageContext) {}
    async execute(query: GetStock): Promise<{ sku: string; available: number }> {
      seen.queries.push({
        orderId: query.sku,
        service,
        instance,
        kind: this.ctx.subscriber,
        correlationId: this.ctx.correlationId,
        causationId: this.ctx.causationId,
      });
      if (query.sku.startsWith('unknown')) throw new StockUnknownError(query.sku);
      if (query.sku.startsWith('slow')) await new Promise((r) => setTimeout(r, 400));
      if (query.sku.startsWith('stall')) await new Promise((r) => setTimeout(r, 4_000));
      if (query.sku.startsWith('huge')) return { sku: 'x'.repeat(20_000), available: 0 };
      return { sku: query.sku, available: query.sku.length };
    }
  }
  return [ShipOrderHandler, GetStockHandler];
}

/** The sending service: an event handler that ships the order (a command caused by that event). */
@Injectable()
export class OrderFlow {
  constructor(private readonly commands: CommandBus) {}

  @Subscribe(OrderPlaced, { name: 'ship-on-placed' })
  async onPlaced(event: OrderPlaced): Promise<void> {
    await this.commands.execute(new ShipOrder(event.orderId, 1));
  }
}

/** Starts one app with the messaging module and `providers`. */
export async function startService(
  options: MessagingModuleOptions,
  providers: Type[],
  imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']> = [],
): Promise<TestingModule> {
  const app = await Test.createTestingModule({
    imports: [MessagingModule.forRoot(options), ...imports],
    providers,
  })
    .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} })
    .compile();
  await app.init();
  return app;
}

/** The buses of the sending app. */
export function busesOf(app: TestingModule): { commands: CommandBus; queries: QueryBus; events: EventBus } {
  return { commands: app.get(CommandBus), queries: app.get(QueryBus), events: app.get(EventBus) };
}
