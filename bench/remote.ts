/**
 * Commands and queries across services over RabbitMQ (issue 15), two Nest apps in one process,
 * beside plain amqplib request/reply, in one run.
 *
 *   npm run bench:remote   (BENCH_DATABASE_URL, AMQP_URL, BENCH_ROUNDS=3, BENCH_SECONDS=4, BENCH_QUERY_RATE=200 to tune)
 *
 * - Durable command throughput: 10 writers in the "orders" app, each running
 *   `MessagingTransactions.run(() => commandBus.execute(new BenchShip(key)))` (the command written to
 *   the PostgreSQL outbox in the writer's transaction) flat out for BENCH_SECONDS; the relay sends each
 *   to `shipping.commands`; the "shipping" app's `@CommandHandler` runs once per command in its inbox
 *   transaction (PostgreSQL). msgs/s = commands / time until the last was handled. Target: the full
 *   path's figure for events, measured here in the same run through the same two apps: the writers
 *   `eventBus.publish(new BenchShipped(key))` instead, a `@Subscribe` in shipping with the inbox.
 * - Query round trip at BENCH_QUERY_RATE/s (open loop) for BENCH_SECONDS: `queryBus.execute(new
 *   BenchStock(sku))` answered by shipping's `@QueryHandler`, against plain amqplib written carefully:
 *   one channel consuming `amq.rabbitmq.reply-to` (no ack) and publishing the requests, a map of
 *   correlation id → pending call, a responder consuming the request queue (prefetch 10) and replying
 *   to `reply-to` with the correlation id; JSON bodies; sockets with Nagle off. Round trip = the call
 *   is due → the reply is in the caller's hands. Both sides are driven in the same window, a call of
 *   each at every tick, so a busy machine weighs on both alike. Target: p99 within 1.2× of plain amqplib.
 * Everything declared is deleted at the end.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { connect } from 'amqplib';
import { DataSource } from 'typeorm';
import {
  Command,
  CommandBus,
  MESSAGING_OPTIONS,
  CommandHandler,
  EventBus,
  Message,
  MessagingModule,
  MessagingTransactions,
  Query,
  QueryBus,
  QueryHandler,
  Subscribe,
  createMessagingEntities,
} from '../lib';
import type { ResolvedMessagingOptions } from '../lib/config/messaging-options.interface';
import { retryDelayLevels } from '../lib/consumer/retry.policy';
import { median, redact } from './bench-report';
import { plainRequestReply } from './plain-request-reply';

const DB_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const AMQP_URL = process.env.AMQP_URL ?? process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const QUERY_RATE = Number(process.env.BENCH_QUERY_RATE ?? 200);
const WRITERS = 10;

const run = `rb${randomBytes(3).toString('hex')}`;
const ORDERS = `${run}-orders`;
const SHIPPING = `${run}-shipping`;
const exchange = `${run}.events`;
const tables = (p: string) => ({ outboxTable: `${run}_${p}_outbox`, inboxTable: `${run}_${p}_inbox` });

@Message('bench.Ship')
class BenchShip extends Command<void> {
  constructor(readonly key: string) {
    super();
  }
}

@Message('bench.Shipped')
class BenchShipped {
  constructor(readonly key: string) {}
}

@Message('bench.Stock')
class BenchStock extends Query<{ sku: string; available: number }> {
  constructor(readonly sku: string) {
    super();
  }
}

const handled = { count: 0, target: Infinity, last: 0, done: () => undefined as void };

@CommandHandler(BenchShip)
class ShipHandler {
  execute(): void {
    handled.last = performance.now();
    if (++handled.count >= handled.target) handled.done();
  }
}

class ShippedSubscriber {
  @Subscribe(BenchShipped, { name: 'shipped' })
  on(): void {
    handled.last = performance.now();
    if (++handled.count >= handled.target) handled.done();
  }
}

@QueryHandler(BenchStock)
class StockHandler {
  execute(q: BenchStock): { sku: string; available: number } {
    return { sku: q.sku, available: 7 };
  }
}

async function app(serviceName: string, providers: Type[]): Promise<INestApplicationContext> {
  const t = tables(serviceName === ORDERS ? 'o' : 's');
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: DB_URL,
        entities: createMessagingEntities({ database: 'postgres', ...t }),
        synchronize: true,
        poolSize: 30,
      }),
      MessagingModule.forRoot({
        serviceName,
        transport: 'rabbitmq',
        rabbitmq: { url: AMQP_URL, exchange, connectionName: run },
        outbox: t,
        remote: { routes: { [SHIPPING]: [BenchShip, BenchStock] } },
      }),
    ],
    providers,
  })
  class RemoteBenchModule {}
  return NestFactory.createApplicationContext(RemoteBenchModule, { logger: ['error'] });
}

/** Writers flat out for SECONDS, each writing a routed command (or an event) in a transaction; msgs/s to the last handled. */
async function throughput(orders: INestApplicationContext, kind: 'command' | 'event'): Promise<number> {
  const commands = orders.get(CommandBus);
  const events = orders.get(EventBus);
  const tx = orders.get(MessagingTransactions);
  handled.count = 0;
  handled.target = Infinity;
  let written = 0;
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < until) {
        const key = `k${written}`;
        await tx.run(() =>
          kind === 'command' ? commands.execute(new BenchShip(key)) : events.publish(new BenchShipped(key)),
        );
        written++;
      }
    }),
  );
  if (handled.count < written) {
    await new Promise<void>((resolve) => {
      handled.target = written;
      handled.done = resolve;
    });
  }
  return written / ((handled.last - started) / 1000);
}

/** Open loop at QUERY_RATE for SECONDS, a call of each side at every tick; round trips in ms, sorted, per side. */
async function roundTrips(sides: Array<(sku: string) => Promise<unknown>>): Promise<number[][]> {
  const total = QUERY_RATE * SECONDS;
  const started = performance.now();
  const calls: Array<Array<Promise<number>>> = sides.map(() => []);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / QUERY_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // alternate which side is first at a tick
    for (let k = 0; k < sides.length; k++) {
      const side = (i + k) % sides.length;
      calls[side].push(sides[side](`sku-${i}`).then(() => performance.now() - due));
    }
  }
  return Promise.all(calls.map(async (c) => (await Promise.all(c)).sort((a, b) => a - b)));
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Drops the tables, deletes the queues and exchanges the two apps declared. */
async function cleanup(retryLevels: number[]): Promise<void> {
  const ds = await new DataSource({ type: 'postgres', url: DB_URL }).initialize();
  for (const t of [tables('o'), tables('s')])
    await ds.query(`DROP TABLE IF EXISTS "${t.outboxTable}", "${t.inboxTable}"`);
  await ds.destroy();
  const conn = await connect(AMQP_URL);
  const ch = await conn.createChannel();
  const queues = ['commands', 'shipped', 'queries', 'dead-letter', 'dead-letter.lock'].map((q) => `${SHIPPING}.${q}`);
  queues.push(
    `${ORDERS}.dead-letter`,
    `${ORDERS}.dead-letter.lock`,
    ...retryLevels.map((d) => `${SHIPPING}.retry.${d}ms`),
  );
  for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
  for (const e of [exchange, `${SHIPPING}.retry`, `${ORDERS}.retry`]) await ch.deleteExchange(e).catch(() => undefined);
  await conn.close();
}

async function main(): Promise<void> {
  console.log(
    `remote bench: ${redact(AMQP_URL)}, ${redact(DB_URL)}; ${ROUNDS} round(s) of ${SECONDS} s, queries at ${QUERY_RATE}/s`,
  );
  const shipping = await app(SHIPPING, [ShipHandler, ShippedSubscriber, StockHandler]);
  const orders = await app(ORDERS, []);
  const plain = await plainRequestReply(AMQP_URL, `${run}.plain.queries`);
  const queries = orders.get(QueryBus);
  const ours = (sku: string) => queries.execute(new BenchStock(sku));
  const rates = { command: [] as number[], event: [] as number[] };
  const p50 = { ours: [] as number[], plain: [] as number[] };
  const p99 = { ours: [] as number[], plain: [] as number[] };
  try {
    await roundTrips([ours, plain.ask]); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 === 0 ? (['command', 'event'] as const) : (['event', 'command'] as const)) {
        rates[kind].push(await throughput(orders, kind));
      }
      const [o, p] = await roundTrips([ours, plain.ask]);
      p50.ours.push(pct(o, 50));
      p99.ours.push(pct(o, 99));
      p50.plain.push(pct(p, 50));
      p99.plain.push(pct(p, 99));
      console.log(
        `round ${round + 1}: routed commands ${rates.command[round].toFixed(0)} msgs/s, events ${rates.event[round].toFixed(0)} msgs/s; ` +
          `query p50/p99 ours ${p50.ours[round].toFixed(2)}/${p99.ours[round].toFixed(2)} ms, ` +
          `plain amqplib ${p50.plain[round].toFixed(2)}/${p99.plain[round].toFixed(2)} ms`,
      );
    }
  } finally {
    await plain.stop();
    const levels = retryDelayLevels(shipping.get<string, ResolvedMessagingOptions>(MESSAGING_OPTIONS).retry);
    await orders.close();
    await shipping.close();
    await cleanup(levels);
  }
  const rate = median(rates.command);
  const events = median(rates.event);
  const ratio = median(p99.ours) / median(p99.plain);
  console.log('\nmedians of the rounds:');
  console.log(
    `durable routed command, max rate: ${rate.toFixed(0)} msgs/s (rounds ${rates.command.map((r) => r.toFixed(0)).join(', ')}); ` +
      `events on the same path: ${events.toFixed(0)} msgs/s; ratio ${(rate / events).toFixed(2)}× ` +
      `(target: within the full path's events figure, ≥ 1.0× → ${rate >= events ? 'met' : 'not met'})`,
  );
  console.log(
    `routed query round trip at ${QUERY_RATE}/s: ours p50 ${median(p50.ours).toFixed(2)} ms, p99 ${median(p99.ours).toFixed(2)} ms; ` +
      `plain amqplib p50 ${median(p50.plain).toFixed(2)} ms, p99 ${median(p99.plain).toFixed(2)} ms; ` +
      `p99 ratio ${ratio.toFixed(2)}× (target ≤ 1.2× → ${ratio <= 1.2 ? 'met' : 'not met'})`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
