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
 *   path's figure for events (docs/benchmarks.md).
 * - Query round trip at BENCH_QUERY_RATE/s (open loop) for BENCH_SECONDS: `queryBus.execute(new
 *   BenchStock(sku))` answered by shipping's `@QueryHandler`, against plain amqplib written carefully:
 *   one channel consuming `amq.rabbitmq.reply-to` (no ack) and publishing the requests, a map of
 *   correlation id → pending call, a responder consuming the request queue (prefetch 10) and replying
 *   to `reply-to` with the correlation id; JSON bodies; sockets with Nagle off. Round trip = the call
 *   is due → the reply is in the caller's hands. Target: p99 within 1.2× of plain amqplib.
 * Rounds alternate which query side goes first. Everything declared is deleted at the end.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { connect, type ConsumeMessage } from 'amqplib';
import { DataSource } from 'typeorm';
import {
  Command,
  CommandBus,
  CommandHandler,
  Message,
  MessagingModule,
  MessagingTransactions,
  Query,
  QueryBus,
  QueryHandler,
  createMessagingEntities,
} from '../lib';
import { median, redact } from './bench-report';

const DB_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const AMQP_URL = process.env.AMQP_URL ?? process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const QUERY_RATE = Number(process.env.BENCH_QUERY_RATE ?? 200);
const WRITERS = 10;
/** docs/benchmarks.md: the full path outbox → RabbitMQ → inbox, max rate, for events. */
const FULL_PATH_EVENTS_MSGS_PER_S = 846;

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

async function commandThroughput(orders: INestApplicationContext): Promise<number> {
  const commands = orders.get(CommandBus);
  const tx = orders.get(MessagingTransactions);
  handled.count = 0;
  handled.target = Infinity;
  let written = 0;
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < until) {
        await tx.run(() => commands.execute(new BenchShip(`k${written}`)));
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

/** Open loop at QUERY_RATE for SECONDS; round trips in ms, sorted. */
async function roundTrips(ask: (sku: string) => Promise<unknown>): Promise<number[]> {
  const total = QUERY_RATE * SECONDS;
  const started = performance.now();
  const calls: Array<Promise<number>> = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / QUERY_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    calls.push(ask(`sku-${i}`).then(() => performance.now() - due));
  }
  return (await Promise.all(calls)).sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Plain amqplib request/reply, written carefully (see the header). */
async function plainRequestReply(): Promise<{ ask: (sku: string) => Promise<unknown>; stop: () => Promise<void> }> {
  const queue = `${run}.plain.queries`;
  const server = await connect(AMQP_URL, { noDelay: true });
  const client = await connect(AMQP_URL, { noDelay: true });
  const sch = await server.createChannel();
  await sch.assertQueue(queue, { durable: false, autoDelete: true });
  await sch.prefetch(10);
  await sch.consume(queue, (msg: ConsumeMessage | null) => {
    if (!msg) return;
    const q = JSON.parse(msg.content.toString()) as { sku: string };
    sch.publish('', msg.properties.replyTo as string, Buffer.from(JSON.stringify({ sku: q.sku, available: 7 })), {
      correlationId: msg.properties.correlationId,
    });
    sch.ack(msg);
  });
  const cch = await client.createChannel();
  const pending = new Map<string, (v: unknown) => void>();
  await cch.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      const resolve = msg && pending.get(msg.properties.correlationId as string);
      if (!resolve) return;
      pending.delete(msg!.properties.correlationId as string);
      resolve(JSON.parse(msg!.content.toString()));
    },
    { noAck: true },
  );
  return {
    ask: (sku) =>
      new Promise((resolve) => {
        const id = randomUUID();
        pending.set(id, resolve);
        cch.publish('', queue, Buffer.from(JSON.stringify({ sku })), {
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId: id,
          expiration: '10000',
        });
      }),
    stop: async () => {
      await sch.deleteQueue(queue).catch(() => undefined);
      await client.close();
      await server.close();
    },
  };
}

async function main(): Promise<void> {
  console.log(
    `remote bench: ${redact(AMQP_URL)}, ${redact(DB_URL)}; ${ROUNDS} round(s) of ${SECONDS} s, queries at ${QUERY_RATE}/s`,
  );
  const shipping = await app(SHIPPING, [ShipHandler, StockHandler]);
  const orders = await app(ORDERS, []);
  const plain = await plainRequestReply();
  const queries = orders.get(QueryBus);
  const ours = (sku: string) => queries.execute(new BenchStock(sku));
  const rates: number[] = [];
  const p50 = { ours: [] as number[], plain: [] as number[] };
  const p99 = { ours: [] as number[], plain: [] as number[] };
  try {
    await roundTrips(ours); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      rates.push(await commandThroughput(orders));
      const sides = round % 2 === 0 ? (['ours', 'plain'] as const) : (['plain', 'ours'] as const);
      for (const side of sides) {
        const rt = await roundTrips(side === 'ours' ? ours : plain.ask);
        p50[side].push(pct(rt, 50));
        p99[side].push(pct(rt, 99));
      }
      console.log(
        `round ${round + 1}: commands ${rates[round].toFixed(0)} msgs/s; query p50/p99 ours ${p50.ours[round].toFixed(2)}/${p99.ours[round].toFixed(2)} ms, ` +
          `plain amqplib ${p50.plain[round].toFixed(2)}/${p99.plain[round].toFixed(2)} ms`,
      );
    }
  } finally {
    await plain.stop();
    await orders.close();
    await shipping.close();
    const ds = new DataSource({ type: 'postgres', url: DB_URL });
    await ds.initialize();
    for (const p of ['o', 's']) {
      const t = tables(p);
      await ds.query(`DROP TABLE IF EXISTS "${t.outboxTable}", "${t.inboxTable}"`);
    }
    await ds.destroy();
    const conn = await connect(AMQP_URL);
    const ch = await conn.createChannel();
    for (const q of [
      `${SHIPPING}.commands`,
      `${SHIPPING}.queries`,
      `${SHIPPING}.dead-letter`,
      `${ORDERS}.dead-letter`,
    ]) {
      await ch.deleteQueue(q).catch(() => undefined);
    }
    for (const q of [`${SHIPPING}.dead-letter.lock`, `${ORDERS}.dead-letter.lock`])
      await ch.deleteQueue(q).catch(() => undefined);
    for (const e of [exchange, `${SHIPPING}.retry`, `${ORDERS}.retry`])
      await ch.deleteExchange(e).catch(() => undefined);
    await conn.close();
  }
  const rate = median(rates);
  const ratio = median(p99.ours) / median(p99.plain);
  console.log('\nmedians of the rounds:');
  console.log(
    `durable routed command, max rate: ${rate.toFixed(0)} msgs/s (rounds ${rates.map((r) => r.toFixed(0)).join(', ')}); ` +
      `target: the full path's events figure, ${FULL_PATH_EVENTS_MSGS_PER_S} msgs/s → ${rate >= FULL_PATH_EVENTS_MSGS_PER_S ? 'met' : 'not met'}`,
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
