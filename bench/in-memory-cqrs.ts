/**
 * The `@nestjs/cqrs` side of `npm run bench:memory`, bare: a process of its own that never loads
 * nestjs-messaging, so no AsyncLocalStorage of ours (nor its promise hooks) is active in it.
 * Started by bench/in-memory.ts with `fork`; runs one round per request and replies the elapsed ms.
 */
import 'reflect-metadata';
import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as cqrs from '@nestjs/cqrs';
import {
  HitCounter,
  pipelinedEvents,
  sequentialEvents,
  sequentialRequests,
  type Round,
  type RoundReply,
  type RoundRequest,
  type ScenarioKey,
} from './in-memory-rounds';

const hits = new HitCounter();

class CreateOrder {
  constructor(
    readonly orderId: string,
    readonly amount: number,
  ) {}
}
class GetOrder {
  constructor(readonly orderId: string) {}
}
class BenchEvent {
  constructor(
    readonly orderId: string,
    readonly customerId: string,
    readonly totalAmount: number,
  ) {}
}
class BenchEventSync extends BenchEvent {}
const ORDER = { id: 'o-1', status: 'created' };

@cqrs.CommandHandler(CreateOrder)
class CreateOrderHandler implements cqrs.ICommandHandler<CreateOrder> {
  async execute(c: CreateOrder) {
    return c.amount;
  }
}
@cqrs.QueryHandler(GetOrder)
class GetOrderHandler implements cqrs.IQueryHandler<GetOrder> {
  async execute() {
    return ORDER;
  }
}
/** An async subscriber (it awaits something, as subscribers that do I/O do): the headline case. */
const asyncHandler = () => {
  @cqrs.EventsHandler(BenchEvent)
  class AsyncSub implements cqrs.IEventHandler<BenchEvent> {
    async handle(_e: BenchEvent) {
      await Promise.resolve();
      hits.hit();
    }
  }
  return AsyncSub;
};
const syncHandler = () => {
  @cqrs.EventsHandler(BenchEventSync)
  class SyncSub implements cqrs.IEventHandler<BenchEventSync> {
    handle(_e: BenchEventSync) {
      hits.hit();
    }
  }
  return SyncSub;
};

function app(providers: Type[]): Promise<INestApplicationContext> {
  @Module({ imports: [cqrs.CqrsModule.forRoot()], providers })
  class CqrsBenchModule {}
  return NestFactory.createApplicationContext(CqrsBenchModule, { logger: false, abortOnError: false });
}

async function main(): Promise<void> {
  const [one, three] = await Promise.all([
    app([CreateOrderHandler, GetOrderHandler, asyncHandler(), syncHandler()]),
    app([asyncHandler(), asyncHandler(), asyncHandler(), syncHandler(), syncHandler(), syncHandler()]),
  ]);
  const commands = one.get(cqrs.CommandBus);
  const queries = one.get(cqrs.QueryBus);
  const events1 = one.get(cqrs.EventBus);
  const events3 = three.get(cqrs.EventBus);
  const pub = (bus: cqrs.EventBus) => (i: number) => bus.publish(new BenchEvent(`o-${i}`, 'c-1', i));
  const pubSync = (bus: cqrs.EventBus) => (i: number) => bus.publish(new BenchEventSync(`o-${i}`, 'c-1', i));
  const rounds: Record<ScenarioKey, Round> = {
    command: sequentialRequests((i) => commands.execute(new CreateOrder('o-1', i))),
    query: sequentialRequests(() => queries.execute(new GetOrder('o-1'))),
    'event1-async': sequentialEvents(pub(events1), hits, 1),
    'event3-async': sequentialEvents(pub(events3), hits, 3),
    'event1-sync': sequentialEvents(pubSync(events1), hits, 1),
    'event3-sync': sequentialEvents(pubSync(events3), hits, 3),
    'event1-async-pipelined': pipelinedEvents(pub(events1), hits, 1),
    'event3-async-pipelined': pipelinedEvents(pub(events3), hits, 3),
  };
  const version = (require('@nestjs/cqrs/package.json') as { version: string }).version;
  process.on('message', (request: RoundRequest | 'exit') => {
    if (request === 'exit') {
      void Promise.all([one.close(), three.close()]).then(() => process.exit(0));
      return;
    }
    void rounds[request.key](request.n).then((ms) => process.send!({ ms } satisfies RoundReply));
  });
  process.send!({ ready: true, version } satisfies RoundReply);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
