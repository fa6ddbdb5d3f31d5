// Type-level tests: this file is compiled by the type check of `npm test` (tsc --noEmit) and never
// run. Each `@ts-expect-error` line must be an error: if it compiled, tsc would fail on the unused
// directive, so a loosened type fails the suite.
import { Command as CqrsCommand } from '@nestjs/cqrs';
import {
  Command,
  CommandBus,
  CommandHandler,
  EventBus,
  Query,
  QueryBus,
  QueryHandler,
  type ICommandHandler,
  type IQueryHandler,
  type ResultOf,
} from '../../lib';

interface OrderView {
  id: string;
  total: number;
}

class GetOrder extends Query<OrderView> {
  constructor(readonly id: string) {
    super();
  }
}

class PlaceOrder extends Command<{ orderId: string }> {
  constructor(readonly sku: string) {
    super();
  }
}

class CancelOrder extends Command {
  constructor(readonly orderId: string) {
    super();
  }
}

/** A command that does not extend Command<R> (as before): accepted, result typed by the caller. */
class LegacyCommand {
  constructor(readonly n: number) {}
}

@QueryHandler(GetOrder)
export class GetOrderHandler implements IQueryHandler<GetOrder> {
  async execute(query: GetOrder): Promise<OrderView> {
    return { id: query.id, total: 1 };
  }
}

@CommandHandler(PlaceOrder)
export class PlaceOrderHandler implements ICommandHandler<PlaceOrder> {
  execute(command: PlaceOrder): { orderId: string } {
    return { orderId: command.sku };
  }
}

@CommandHandler(PlaceOrder)
export class WrongResultHandler implements ICommandHandler<PlaceOrder> {
  // @ts-expect-error: the handler of a Command<{ orderId: string }> must return one
  async execute(): Promise<number> {
    return 1;
  }
}

// @ts-expect-error: the decorator names PlaceOrder, execute() takes another command
@CommandHandler(PlaceOrder)
export class MismatchedHandler {
  execute(command: LegacyCommand): number {
    return command.n;
  }
}

// @ts-expect-error: the decorator names GetOrder, execute() takes a PlaceOrder
@QueryHandler(GetOrder)
export class MismatchedQueryHandler {
  execute(command: PlaceOrder): string {
    return command.sku;
  }
}

@CommandHandler(LegacyCommand)
export class LegacyHandler implements ICommandHandler<LegacyCommand, number> {
  execute(command: LegacyCommand): number {
    return command.n;
  }
}

@CommandHandler('legacy.Untyped')
export class UntypedHandler implements ICommandHandler {
  execute(): void {}
}

export async function typedResults(commands: CommandBus, queries: QueryBus, events: EventBus): Promise<void> {
  const view = await queries.execute(new GetOrder('o-1'));
  const total: number = view.total;
  // @ts-expect-error: the answer of GetOrder is an OrderView, not a string
  const wrong: string = await queries.execute(new GetOrder('o-1'));

  const placed = await commands.execute(new PlaceOrder('sku-1'));
  const orderId: string = placed.orderId;
  // @ts-expect-error: PlaceOrder's result has no "total"
  void placed.total;

  const nothing: void = await commands.execute(new CancelOrder('o-1'));

  // a class that does not extend Command<R>: typed by the caller, as before
  const n = await commands.execute<number>(new LegacyCommand(2));
  const alsoN: number = n;

  // @ts-expect-error: not a command at all
  await commands.execute('PlaceOrder');

  const result: ResultOf<GetOrder> = view;

  await events.publish(new CancelOrder('o-1'));
  await events.publish({ type: 'foreign.OrderShipped', orderId: 'o-1' }); // a foreign event by name
  await events.publishAll([new CancelOrder('o-1'), new CancelOrder('o-2')]);
  // @ts-expect-error: a class, not an instance (forgot "new")
  await events.publish(CancelOrder);
  // @ts-expect-error: not an object
  await events.publish('OrderShipped');
  void [total, wrong, orderId, nothing, alsoN, result];
}

/** `@nestjs/cqrs`'s own Command class is accepted (its result typed by the caller). */
class CqrsStyle extends CqrsCommand<number> {}
export async function cqrsClasses(commands: CommandBus): Promise<number> {
  return commands.execute<number>(new CqrsStyle());
}
