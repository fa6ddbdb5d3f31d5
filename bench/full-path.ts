/**
 * The full path outbox (PostgreSQL) → RabbitMQ → inbox subscriber, beside the naive baseline of the
 * outbox benchmark with the broker in the loop, measured in the same run.
 *
 *   npx ts-node --transpile-only -P tsconfig.json bench/full-path.ts
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test  AMQP_URL=amqp://guest:guest@127.0.0.1:5672
 *   BENCH_ROUNDS=2  BENCH_SECONDS=4  BENCH_ONLY=ours|baseline (one side, e.g. for its peak RSS)
 *
 * Both sides: 10 writers, each event committed in its own transaction; a relay publishes it to a
 * durable topic exchange (persistent, publisher confirms); one subscriber queue consumed with
 * manual acks, 10 deliveries handled at once, each in a transaction that first inserts the inbox row
 * and then records an effect row. Latency = the writer's commit resolved → the subscriber's
 * transaction committed (the ack follows).
 * - ours: a Nest application context as an app would build it — `TypeOrmModule.forRoot` +
 *   `MessagingModule.forRoot({ transport: 'rabbitmq', outbox })` (default outbox options: relay woken
 *   on commit, batches of 100); writers call `MessagingTransactions.run(() => eventBus.publish(evt))`;
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

const DB_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const AMQP_URL = process.env.AMQP_URL ?? process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WRITERS = 10;
const CONCURRENCY = 10;
const FIXED_RATE = 500;
const run = `fp${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const T = { outbox: `${run}_outbox`, inbox: `${run}_inbox`, effect: `${run}_effect` };
const B = { outbox: `${run}_base_outbox`, inbox: `${run}_base_inbox`, effect: `${run}_base_effect` };
const OURS = { prefix: `${run}.svc`, exchange: `${run}.events` };
const BASE = { queue: `${run}.base.effects`, exchange: `${run}.base.events` };
const TYPE = 'BenchOrderPlaced';

interface Side {
  name: 'ours' | 'baseline';
  write(key: string): Promise<void>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

interface Result {
  msgs: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
}

/** Commit and handled times per event key. */
class Clock {
  private commits = new Map<string, number>();
  private handledEarly = new Map<string, number>();
  latencies: number[] = [];
  handled = 0;
  lastHandledAt = 0;
  private waiter?: { n: number; resolve: () => void };

  committed(key: string): void {
    const now = performance.now();
    const early = this.handledEarly.get(key);
    if (early !== undefined) {
      this.handledEarly.delete(key);
      this.latencies.push(Math.max(0, early - now));
    } else this.commits.set(key, now);
  }

  done(key: string): void {
    const now = performance.now();
    const at = this.commits.get(key);
    if (at === undefined) this.handledEarly.set(key, now);
    else {
      this.commits.delete(key);
      this.latencies.push(now - at);
    }
    this.handled++;
    this.lastHandledAt = now;
    if (this.waiter && this.handled >= this.waiter.n) this.waiter.resolve();
  }

  waitFor(n: number, timeoutMs = 60_000): Promise<void> {
    if (this.handled >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.handled} of ${n} handled after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }
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

/** Transactions whose subscriber handled an event: the key is recorded as handled when they commit. */
const handledIn = new WeakMap<object, string>();

@Injectable()
class EffectsSubscriber {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe(BenchOrderPlaced, { name: 'effects', concurrency: CONCURRENCY })
  async record(event: BenchOrderPlaced): Promise<void> {
    const manager = this.ctx.manager;
    await manager.query(`INSERT INTO "${T.effect}" (id) VALUES ($1)`, [event.key]);
    handledIn.set(manager.queryRunner, event.key);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'postgres', url: DB_URL, poolSize: 30 }),
    MessagingModule.forRoot({
      serviceName: 'bench',
      transport: 'rabbitmq',
      rabbitmq: { url: AMQP_URL, exchange: OURS.exchange, queuePrefix: OURS.prefix, connectionName: run },
      outbox: { outboxTable: T.outbox, inboxTable: T.inbox },
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
  await setup.destroy();

  const app = await NestFactory.createApplicationContext(BenchAppModule, { logger: ['error'] });
  const ds = app.get(DataSource);
  delayLevels = retryDelayLevels(app.get<ResolvedMessagingOptions>(MESSAGING_OPTIONS).retry);
  (ds.subscribers as unknown[]).push({
    afterTransactionCommit(event: { queryRunner: object & { isTransactionActive?: boolean } }) {
      const key = handledIn.get(event.queryRunner);
      if (key === undefined || event.queryRunner.isTransactionActive) return;
      handledIn.delete(event.queryRunner);
      clock.done(key);
    },
  });
  const events = app.get(EventBus);
  const transactions = app.get(MessagingTransactions);
  const lines = [{ sku: 'A-1', qty: 2 }];
  return {
    name: 'ours',
    async write(key) {
      await transactions.run(() => events.publish(new BenchOrderPlaced(key, 'c-1', 42, lines)));
      clock.committed(key);
    },
    async reset() {
      await ds.query(`TRUNCATE "${T.outbox}", "${T.inbox}", "${T.effect}"`);
    },
    async stop() {
      await app.close();
      const pool = new Pool({ connectionString: DB_URL, max: 1 });
      await pool.query(`DROP TABLE IF EXISTS "${T.outbox}", "${T.inbox}", "${T.effect}"`);
      await pool.end();
    },
  };
}

// ---------------------------------------------------------------- baseline: plain pg + amqplib

async function baseline(): Promise<Side> {
  const pool = new Pool({ connectionString: DB_URL, max: 30 });
  await pool.query(
    `CREATE TABLE "${B.outbox}" (id bigserial PRIMARY KEY, payload text NOT NULL, sent boolean NOT NULL DEFAULT false);` +
      `CREATE INDEX ON "${B.outbox}" (id) WHERE NOT sent;` +
      `CREATE TABLE "${B.inbox}" (message_id varchar(200), subscriber varchar(255), PRIMARY KEY (message_id, subscriber));` +
      `CREATE TABLE "${B.effect}" (id varchar(200) PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
  );
  const pubConn: ChannelModel = await connect(AMQP_URL);
  const subConn: ChannelModel = await connect(AMQP_URL);
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
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          const r = await c.query(`INSERT INTO "${B.inbox}" VALUES ($1, 'effects') ON CONFLICT DO NOTHING`, [event.id]);
          if (r.rowCount === 1) await c.query(`INSERT INTO "${B.effect}" (id) VALUES ($1)`, [event.data.key]);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
        clock.done(event.data.key);
        sub.ack(msg);
      })().catch((err) => console.error('baseline consumer:', err));
    },
    { noAck: false },
  );

  let stopping = false;
  const relay = (async () => {
    while (!stopping) {
      const c = await pool.connect();
      let n = 0;
      try {
        await c.query('BEGIN');
        const { rows } = await c.query(
          `SELECT id, payload FROM "${B.outbox}" WHERE NOT sent ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED`,
        );
        n = rows.length;
        for (const row of rows) {
          const event = JSON.parse(row.payload) as { id: string; type: string };
          pub.publish(BASE.exchange, event.type, Buffer.from(row.payload), {
            persistent: true,
            mandatory: true,
            contentType: 'application/cloudevents+json',
            messageId: event.id,
          });
        }
        if (n) {
          await pub.waitForConfirms();
          await c.query(`UPDATE "${B.outbox}" SET sent = true WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
        }
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      if (n < 100) await new Promise((r) => setTimeout(r, 10));
    }
  })();

  return {
    name: 'baseline',
    async write(key) {
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
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(`INSERT INTO "${B.outbox}" (payload) VALUES ($1)`, [encodeEnvelope(envelope)]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      clock.committed(key);
    },
    async reset() {
      await pool.query(`TRUNCATE "${B.outbox}", "${B.inbox}", "${B.effect}"`);
    },
    async stop() {
      stopping = true;
      await relay;
      await sub.cancel(consumerTag);
      await pub.deleteQueue(BASE.queue);
      await pub.deleteExchange(BASE.exchange);
      await subConn.close();
      await pubConn.close();
      await pool.query(`DROP TABLE IF EXISTS "${B.outbox}", "${B.inbox}", "${B.effect}"`);
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

// ---------------------------------------------------------------- scenarios

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(c: Clock, msgs: number, startedAt: number): Result {
  const sorted = c.latencies.slice().sort((a, b) => a - b);
  const seconds = (c.lastHandledAt - startedAt) / 1000;
  return { msgs, seconds, rate: msgs / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

let seq = 0;
const nextKey = () => `k${(seq++).toString(36)}`;

async function maxRate(side: Side, seconds = SECONDS): Promise<Result> {
  await side.reset();
  clock = new Clock();
  let written = 0;
  const startedAt = performance.now();
  const until = startedAt + seconds * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < until) {
        await side.write(nextKey());
        written++;
      }
    }),
  );
  await clock.waitFor(written);
  return summarize(clock, written, startedAt);
}

async function fixedRate(side: Side): Promise<Result> {
  await side.reset();
  clock = new Clock();
  const total = FIXED_RATE * SECONDS;
  const startedAt = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / FIXED_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= WRITERS) await Promise.race(inFlight);
    const p: Promise<void> = side.write(nextKey()).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  await clock.waitFor(total);
  return summarize(clock, total, startedAt);
}

const fmt = (r: Result) =>
  `${r.rate.toFixed(0).padStart(6)} msgs/s  (${r.msgs} in ${r.seconds.toFixed(2)} s)   ` +
  `p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms`;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  const began = performance.now();
  const sides: Side[] = [];
  const results = {
    ours: { max: [] as Result[], fixed: [] as Result[] },
    baseline: { max: [] as Result[], fixed: [] as Result[] },
  };
  console.log(
    `full path outbox → RabbitMQ → inbox; PostgreSQL ${DB_URL.replace(/:[^:@/]*@/, ':***@')}, ` +
      `RabbitMQ ${AMQP_URL.replace(/:[^:@/]*@/, ':***@')}; ${WRITERS} writers, subscriber concurrency ${CONCURRENCY}; ` +
      `${SECONDS} s per run; ${ROUNDS} round(s)`,
  );
  try {
    if (only !== 'baseline') sides.push(await ours());
    if (only !== 'ours') sides.push(await baseline());
    for (const side of sides) await maxRate(side, 1); // warm-up (JIT, connections, plans)
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const r = await maxRate(side);
        results[side.name].max.push(r);
        console.log(`round ${round + 1} max   ${side.name.padEnd(8)} ${fmt(r)}`);
      }
      for (const side of order) {
        const r = await fixedRate(side);
        results[side.name].fixed.push(r);
        console.log(`round ${round + 1} ${FIXED_RATE}/s ${side.name.padEnd(8)} ${fmt(r)}`);
      }
    }
  } finally {
    for (const side of sides) await side.stop().catch((err) => console.error(`stopping ${side.name}:`, err));
    if (only !== 'baseline') await deleteOurTopology().catch((err) => console.error('topology cleanup:', err));
  }
  console.log('\nmedians over rounds');
  for (const scenario of ['max', 'fixed'] as const) {
    for (const name of ['ours', 'baseline'] as const) {
      const rs = results[name][scenario];
      if (rs.length === 0) continue;
      console.log(
        `${(scenario === 'max' ? 'max rate' : `${FIXED_RATE} msgs/s`).padEnd(11)} ${name.padEnd(8)} ` +
          `${median(rs.map((r) => r.rate))
            .toFixed(0)
            .padStart(6)} msgs/s   ` +
          `p50 ${median(rs.map((r) => r.p50)).toFixed(1)} ms  p99 ${median(rs.map((r) => r.p99)).toFixed(1)} ms`,
      );
    }
  }
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
