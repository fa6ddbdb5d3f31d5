/**
 * The full path outbox (PostgreSQL) → RabbitMQ → inbox subscriber, beside the naive baseline of the
 * outbox benchmark with the broker in the loop, measured in the same run.
 *
 *   npm run bench:full-path   (compiles lib/ and bench/ to dist-bench/, runs the compiled JS)
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test  AMQP_URL=amqp://guest:guest@127.0.0.1:5672
 *   BENCH_ROUNDS=2  BENCH_SECONDS=4  BENCH_ONLY=ours|baseline (one side, e.g. for its peak RSS)
 *   BENCH_STAGES=1  also prints, per run, p50/p99 of begin → writer committed → handler started → done
 *   BENCH_PROFILE=1  also prints, per max-rate run, where the time goes (bench/profile-window.ts): CPU per
 *                    message of this process, PostgreSQL and RabbitMQ, socket writes, and the profile by package
 *
 * Both sides: 10 writers, each writing an order row and its event in one transaction; a relay
 * publishes the event to a durable topic exchange (persistent, publisher confirms); one subscriber
 * queue consumed with manual acks, each message handled in a transaction that inserts the inbox row
 * and then records an effect row. Same tuning on both sides: AMQP sockets with Nagle off (noDelay),
 * the relay's "mark sent" committed with `synchronous_commit = off`, 10 handlers at once. Latency =
 * the writer is about to BEGIN → the subscriber's transaction committed (the ack follows).
 * - ours: a Nest application context as an app would build it — `TypeOrmModule.forRoot` +
 *   `MessagingModule.forRoot({ transport: 'rabbitmq', outbox })` with default options (relay woken
 *   on commit, batches of 100, inbox group commit); writers call
 *   `MessagingTransactions.run((manager) => { insert the order; eventBus.publish(evt) })`;
 *   the subscriber is a `@Subscribe(..., { concurrency: 10 })` method writing through `MessageContext.manager`.
 * - baseline: plain `pg` + `amqplib`: one INSERT per transaction; a relay polling every 10 ms that
 *   claims up to 100 rows `FOR UPDATE SKIP LOCKED`, publishes them on a confirm channel, waits for
 *   the confirms, marks them sent and commits; a consumer (prefetch 10) doing BEGIN / inbox INSERT
 *   (ON CONFLICT DO NOTHING) / effect INSERT / COMMIT / ack per message.
 * Scenarios per round (rounds alternate which side goes first): max rate (writers flat out for
 * BENCH_SECONDS, then drain; msgs/s = messages / time until the last was handled) and a fixed
 * 500 msgs/s (open loop). Everything declared (queues, exchanges, tables) is deleted at the end.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { connect, type ChannelModel } from 'amqplib';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import {
  EventBus,
  Message,
  MessageContext,
  MESSAGING_OPTIONS,
  MessagingModule,
  MessagingTransactions,
  Subscribe,
} from '../lib';
import type { ResolvedMessagingOptions } from '../lib/config/messaging-options.interface';
import { retryDelayLevels } from '../lib/consumer/retry.policy';
import { createMessagingMigration } from '../lib/outbox/outbox.migration';
import { encodeEnvelope } from '../lib/message/cloudevents.codec';
import { uuidv7 } from '../lib/message/uuid-v7';
import { median, printMedians, redact, runRounds, type SideResults } from './bench-report';
import { Clock, fixedRate, maxRate, type Load, type Result } from './latency-clock';
import { startProfileWindow } from './profile-window';
import {
  BENCH_DATABASE_URL as DB_URL,
  createBaselineTables,
  dropBaselineTables,
  insertIntoOutbox,
  ORDER_SQL,
  recordEffect,
  settleBetweenRuns,
  startPollingRelay,
  truncateBaselineTables,
} from './pg-baseline';

const AMQP_URL = process.env.AMQP_URL ?? process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WRITERS = 10;
const CONCURRENCY = 10;
const FIXED_RATE = 500;
const run = `fp${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const T = { orders: `${run}_orders`, outbox: `${run}_outbox`, inbox: `${run}_inbox`, effect: `${run}_effect` };
const B = {
  orders: `${run}_base_orders`,
  outbox: `${run}_base_outbox`,
  inbox: `${run}_base_inbox`,
  effect: `${run}_base_effect`,
};
const OURS = { prefix: `${run}.svc`, exchange: `${run}.events` };
const BASE = { queue: `${run}.base.effects`, exchange: `${run}.base.events` };
const TYPE = 'BenchOrderPlaced';

interface Side {
  name: 'ours' | 'baseline';
  write(key: string): Promise<void>;
  reset(): Promise<void>;
  stop(): Promise<void>;
  /** Background work only this side needs (the baseline's polling relay), off while the other side runs. */
  pause?(): Promise<void>;
  resume?(): void;
}

let clock = new Clock();

// ---------------------------------------------------------------- ours: a Nest app with the module

@Message(TYPE)
class BenchOrderPlaced {
  constructor(
    readonly key: string,
    readonly customerId: string,
    readonly totalAmount: number,
    readonly lines: { sku: string; qty: number }[],
  ) {}
}

/** Transactions whose subscriber handled events (one, or a commit group): recorded as handled when they commit. */
const handledIn = new WeakMap<object, string[]>();

@Injectable()
class EffectsSubscriber {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe(BenchOrderPlaced, { name: 'effects', concurrency: CONCURRENCY })
  async record(event: BenchOrderPlaced): Promise<void> {
    clock.mark(event.key, 1, 'handler');
    const manager = this.ctx.manager;
    await manager.query(`INSERT INTO "${T.effect}" (id) VALUES ($1)`, [event.key]);
    const runner = manager.queryRunner as object;
    const keys = handledIn.get(runner);
    if (keys) keys.push(event.key);
    else handledIn.set(runner, [event.key]);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'postgres', url: DB_URL, poolSize: 30 }),
    MessagingModule.forRoot({
      serviceName: 'bench',
      transport: 'rabbitmq',
      rabbitmq: { url: AMQP_URL, exchange: OURS.exchange, queuePrefix: OURS.prefix, connectionName: run },
      // BENCH_GROUP_COMMIT=1 turns the inbox group commit off (a comparison, never the headline)
      outbox: {
        outboxTable: T.outbox,
        inboxTable: T.inbox,
        ...(process.env.BENCH_GROUP_COMMIT ? { groupCommit: Number(process.env.BENCH_GROUP_COMMIT) } : {}),
      },
    }),
  ],
  providers: [EffectsSubscriber],
})
class BenchAppModule {}

async function ours(): Promise<Side> {
  // tables first (an app would run the migration before starting)
  const setup = new DataSource({ type: 'postgres', url: DB_URL });
  await setup.initialize();
  const Migration = createMessagingMigration({ outboxTable: T.outbox, inboxTable: T.inbox });
  await new Migration().up(setup.createQueryRunner());
  await setup.query(`CREATE TABLE "${T.effect}" (id varchar(200) PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
  await setup.query(
    `CREATE TABLE "${T.orders}" (id varchar(200) PRIMARY KEY, customer varchar(200) NOT NULL, total numeric NOT NULL)`,
  );
  await setup.destroy();

  const app = await NestFactory.createApplicationContext(BenchAppModule, { logger: ['error'] });
  const ds = app.get(DataSource);
  delayLevels = retryDelayLevels(app.get<ResolvedMessagingOptions>(MESSAGING_OPTIONS).retry);
  (ds.subscribers as unknown[]).push({
    afterTransactionCommit(event: { queryRunner: object & { isTransactionActive?: boolean } }) {
      const keys = handledIn.get(event.queryRunner);
      if (keys === undefined || event.queryRunner.isTransactionActive) return;
      handledIn.delete(event.queryRunner);
      for (const key of keys) clock.done(key);
    },
  });
  const events = app.get(EventBus);
  const transactions = app.get(MessagingTransactions);
  const lines = [{ sku: 'A-1', qty: 2 }];
  return {
    name: 'ours',
    async write(key) {
      clock.started(key);
      await transactions.run(async (manager: { query(sql: string, params: unknown[]): Promise<unknown> }) => {
        await manager.query(ORDER_SQL(T), [key]);
        await events.publish(new BenchOrderPlaced(key, 'c-1', 42, lines));
      });
      clock.mark(key, 0, 'committed');
    },
    async reset() {
      await ds.query(`TRUNCATE "${T.orders}", "${T.outbox}", "${T.inbox}", "${T.effect}"`);
    },
    async stop() {
      await app.close();
      const pool = new Pool({ connectionString: DB_URL, max: 1 });
      await pool.query(`DROP TABLE IF EXISTS "${T.orders}", "${T.outbox}", "${T.inbox}", "${T.effect}"`);
      await pool.end();
    },
  };
}

// ---------------------------------------------------------------- baseline: plain pg + amqplib

async function baseline(): Promise<Side> {
  const pool = new Pool({ connectionString: DB_URL, max: 30 });
  await createBaselineTables(pool, B);
  // the library's transport sets noDelay on its sockets: the baseline gets the same
  const pubConn: ChannelModel = await connect(AMQP_URL, { noDelay: true });
  const subConn: ChannelModel = await connect(AMQP_URL, { noDelay: true });
  const pub = await pubConn.createConfirmChannel();
  await pub.assertExchange(BASE.exchange, 'topic', { durable: true });
  await pub.assertQueue(BASE.queue, { durable: true });
  await pub.bindQueue(BASE.queue, BASE.exchange, TYPE);

  const sub = await subConn.createChannel();
  await sub.prefetch(CONCURRENCY);
  const { consumerTag } = await sub.consume(
    BASE.queue,
    (msg) => {
      if (!msg) return;
      void (async () => {
        const event = JSON.parse(msg.content.toString('utf8')) as { id: string; data: { key: string } };
        clock.mark(event.data.key, 1, 'handler');
        await recordEffect(pool, B, event.id, event.data.key);
        clock.done(event.data.key);
        sub.ack(msg);
      })().catch((err) => console.error('baseline consumer:', err));
    },
    { noAck: false },
  );

  const relay = startPollingRelay(pool, B, async (payloads) => {
    for (const payload of payloads) {
      const event = JSON.parse(payload) as { id: string; type: string };
      pub.publish(BASE.exchange, event.type, Buffer.from(payload), {
        persistent: true,
        mandatory: true,
        contentType: 'application/cloudevents+json',
        messageId: event.id,
      });
    }
    await pub.waitForConfirms();
  });

  return {
    name: 'baseline',
    async write(key) {
      clock.started(key);
      const id = uuidv7();
      const envelope = {
        id,
        type: TYPE,
        version: 1,
        time: new Date().toISOString(),
        source: 'bench',
        correlationId: id,
        headers: {},
        data: { key, customerId: 'c-1', totalAmount: 42, lines: [{ sku: 'A-1', qty: 2 }] },
      };
      await insertIntoOutbox(pool, B, encodeEnvelope(envelope), key);
      clock.mark(key, 0, 'committed');
    },
    reset: () => truncateBaselineTables(pool, B),
    pause: () => relay.pause(),
    resume: () => relay.resume(),
    async stop() {
      await relay.pause();
      await sub.cancel(consumerTag);
      await pub.deleteQueue(BASE.queue);
      await pub.deleteExchange(BASE.exchange);
      await subConn.close();
      await pubConn.close();
      await dropBaselineTables(pool, B);
      await pool.end();
    },
  };
}

let delayLevels: number[] = [];

/** Deletes what our transport declared for this run (it never deletes anything itself). */
async function deleteOurTopology(): Promise<void> {
  const conn = await connect(AMQP_URL);
  const ch = await conn.createChannel();
  for (const q of [`${OURS.prefix}.effects`, `${OURS.prefix}.dead-letter`, `${OURS.prefix}.dead-letter.lock`]) {
    await ch.deleteQueue(q);
  }
  for (const ms of delayLevels) await ch.deleteQueue(`${OURS.prefix}.retry.${ms}ms`); // the delay queues
  await ch.deleteExchange(`${OURS.prefix}.retry`);
  await ch.deleteExchange(OURS.exchange);
  await conn.close();
}

let seq = 0;
const nextKey = () => `k${(seq++).toString(36)}`;

/** One side as a load for the scenarios; its commits and handled events go to the module's `clock`. */
const load = (side: Side): Load => ({
  writers: WRITERS,
  reset: () => side.reset(),
  newClock: () => (clock = new Clock()),
  writeOne: () => side.write(nextKey()),
  drainTimeoutMs: 60_000,
});

const PERCENTILES = ['p50', 'p99'] as const;
const PROFILE = process.env.BENCH_PROFILE === '1';
let profiled = 0;

/** A max-rate run; with BENCH_PROFILE=1 a measured one (not the warm-up) is profiled. */
async function maxRateRun(side: Side, seconds: number): Promise<Result> {
  if (!PROFILE || seconds !== SECONDS) return maxRate(load(side), seconds);
  const window = await startProfileWindow(`full-path-${side.name}-max-${++profiled}`);
  const result = await maxRate(load(side), seconds);
  await window.stop(result.msgs, result.seconds);
  return result;
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  const began = performance.now();
  const sides: Side[] = [];
  console.log(
    `full path outbox → RabbitMQ → inbox; PostgreSQL ${redact(DB_URL)}, ` +
      `RabbitMQ ${redact(AMQP_URL)}; ${WRITERS} writers, subscriber concurrency ${CONCURRENCY}; ` +
      `${SECONDS} s per run; ${ROUNDS} round(s)`,
  );
  let results: Record<string, SideResults>;
  try {
    if (only !== 'baseline') sides.push(await ours());
    if (only !== 'ours') sides.push(await baseline());
    results = await runRounds(sides, {
      rounds: ROUNDS,
      fixedRate: FIXED_RATE,
      percentiles: PERCENTILES,
      maxRate: (side, seconds = SECONDS) => maxRateRun(side, seconds),
      fixedRateRun: (side) => fixedRate(load(side), FIXED_RATE, SECONDS),
      beforeRun: () => settleBetweenRuns(sides),
    });
  } finally {
    for (const side of sides) await side.stop().catch((err) => console.error(`stopping ${side.name}:`, err));
    if (only !== 'baseline') await deleteOurTopology().catch((err) => console.error('topology cleanup:', err));
  }
  printMedians(results, ['ours', 'baseline'], { fixedRate: FIXED_RATE, percentiles: PERCENTILES, median });
  if (!only) {
    const m = (name: 'ours' | 'baseline', s: 'max' | 'fixed', k: 'rate' | 'p99') =>
      median(results[name][s].map((r) => r[k]));
    console.log(`throughput ours / baseline: ${(m('ours', 'max', 'rate') / m('baseline', 'max', 'rate')).toFixed(2)}x`);
    console.log(
      `p99 at ${FIXED_RATE}/s ours / baseline: ${(m('ours', 'fixed', 'p99') / m('baseline', 'fixed', 'p99')).toFixed(2)}x`,
    );
  }
  console.log(
    `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (${only ? `${only} only` : 'both sides in one process'}); ` +
      `wall ${((performance.now() - began) / 1000).toFixed(0)} s`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
