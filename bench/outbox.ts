/**
 * End-to-end throughput and latency of the transactional outbox + relay + inbox on PostgreSQL,
 * beside a naive baseline measured in the same run.
 *
 *   npm run bench:outbox      (compiles lib/ and bench/ to dist-bench/, runs the compiled JS)
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test  BENCH_ROUNDS=2  BENCH_SECONDS=5
 *
 * Both sides: 10 writers, each writing an order row and its event in one transaction; a relay
 * publishes through the in-memory transport; one subscriber (10 handlers at once) records an effect
 * in a transaction that first inserts its inbox row; the relay's mark commits with
 * `synchronous_commit = off` on both sides. Latency = the writer is about to BEGIN → the
 * subscriber's transaction committed.
 * - ours: a Nest app as a user builds it: `TypeOrmModule.forRoot` + `MessagingModule.forRoot` with the
 *   in-memory transport and the PostgreSQL outbox, default options (relay woken on commit and by
 *   LISTEN/NOTIFY, batches of 100, inbox group commit); writers call `MessagingTransactions.run` +
 *   `EventBus.publish`; the subscriber is a `@Subscribe` method writing through `MessageContext.manager`.
 * - baseline: plain `pg`, one INSERT per transaction, a relay polling every 10 ms with
 *   `FOR UPDATE SKIP LOCKED` (batches of 100), an inbox INSERT per message.
 * BENCH_ONLY=outbox (or baseline) runs one side only, e.g. to read its peak RSS alone.
 * Scenarios: max rate (writers flat out for BENCH_SECONDS, then drain; msgs/s = messages / time
 * until the last one was handled) and a fixed 500 msgs/s (open loop). Rounds alternate sides.
 * Then the sustained rate: fixed rates rising by 10% from BENCH_LADDER_START (700), 4 s each, up to
 * the last one a side keeps up with (on schedule, p99 < 500 ms); BENCH_SUSTAINED=0 skips it.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventBus, Message, MessageContext, MessagingModule, MessagingTransactions, Subscribe } from '../lib';
import { createMessagingMigration } from '../lib/outbox/outbox.migration';
import { InMemoryTransport } from '../lib/transport/in-memory/in-memory.transport';
import { decodeEnvelope, encodeEnvelope } from '../lib/message/cloudevents.codec';
import { uuidv7 } from '../lib/message/uuid-v7';
import type { DeliveryHandler, OutboundMessage } from '../lib/transport/transport.interface';
import type { MessageEnvelope } from '../lib/message/envelope';
import { printMedians, redact, runRounds, sustainedRates, upperMedian, type SideResults } from './bench-report';
import { Clock, fixedRate, maxRate, type Load } from './latency-clock';
import {
  BENCH_DATABASE_URL as URL,
  createBaselineTables,
  dropBaselineTables,
  insertIntoOutbox,
  ORDER_SQL,
  settleBetweenRuns,
  recordEffect,
  startPollingRelay,
  truncateBaselineTables,
} from './pg-baseline';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WRITERS = 10;
const FIXED_RATE = 500;
/** The sustained-rate ladder (BENCH_SUSTAINED=0 skips it): fixed rates from LADDER_START up by 10%. */
const SUSTAINED = process.env.BENCH_SUSTAINED !== '0';
const LADDER_START = Number(process.env.BENCH_LADDER_START ?? 700);
const SUFFIX = `${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
const T = {
  orders: `bench_orders_${SUFFIX}`,
  outbox: `bench_outbox_${SUFFIX}`,
  inbox: `bench_inbox_${SUFFIX}`,
  effect: `bench_effect_${SUFFIX}`,
};
const B = {
  orders: `bench_base_orders_${SUFFIX}`,
  outbox: `bench_base_outbox_${SUFFIX}`,
  inbox: `bench_base_inbox_${SUFFIX}`,
  effect: `bench_base_effect_${SUFFIX}`,
};

interface Side {
  name: string;
  write(message: OutboundMessage): Promise<void>;
  reset(): Promise<void>;
  stop(): Promise<void>;
  /** Background work only this side needs (the baseline's polling relay), off while the other side runs. */
  pause?(): Promise<void>;
  resume?(): void;
}

function message(): OutboundMessage {
  const id = uuidv7();
  const envelope = {
    id,
    type: 'OrderCreated',
    version: 1,
    time: new Date().toISOString(),
    source: 'bench',
    correlationId: id,
    headers: {},
    data: { orderId: id, customerId: 'c-1', totalAmount: 42, lines: [{ sku: 'A-1', qty: 2 }] },
  };
  return { envelope, body: encodeEnvelope(envelope) };
}

function subscriberOn(
  transport: InMemoryTransport,
  handle: (envelope: MessageEnvelope) => Promise<void>,
  clock: () => Clock,
) {
  const handler: DeliveryHandler = async (inbound) => {
    const envelope = decodeEnvelope(inbound.body);
    await handle(envelope);
    clock().done(envelope.id);
    return { status: 'ack' };
  };
  return transport.subscribe({ name: 'effects', types: ['OrderCreated'], concurrency: 10, retryDelaysMs: [] }, handler);
}

/** Transactions whose subscriber handled events (one, or a commit group): recorded as handled when they commit. */
const handledIn = new WeakMap<object, string[]>();

@Message('OrderCreated')
class OrderCreated {
  constructor(
    readonly orderId: string,
    readonly customerId: string,
    readonly totalAmount: number,
    readonly lines: { sku: string; qty: number }[],
  ) {}
}

@Injectable()
class EffectsSubscriber {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe(OrderCreated, { name: 'effects' })
  async record(event: OrderCreated): Promise<void> {
    const manager = this.ctx.manager;
    await manager.query(`INSERT INTO "${T.effect}" (id) VALUES ($1)`, [event.orderId]);
    const runner = manager.queryRunner as object;
    const keys = handledIn.get(runner);
    if (keys) keys.push(event.orderId);
    else handledIn.set(runner, [event.orderId]);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'postgres', url: URL, poolSize: 30 }),
    // the in-memory transport (the default) and the PostgreSQL outbox, default options
    MessagingModule.forRoot({ serviceName: 'bench', outbox: { outboxTable: T.outbox, inboxTable: T.inbox } }),
  ],
  providers: [EffectsSubscriber],
})
class OutboxBenchModule {}

/** Ours: a Nest app as a user builds it; writers use `MessagingTransactions.run` + `EventBus.publish`. */
async function ours(clockRef: () => Clock): Promise<Side> {
  const setup = new DataSource({ type: 'postgres', url: URL });
  await setup.initialize();
  const Migration = createMessagingMigration({ outboxTable: T.outbox, inboxTable: T.inbox });
  await new Migration().up(setup.createQueryRunner());
  await setup.query(`CREATE TABLE "${T.effect}" (id varchar(200) PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
  await setup.query(
    `CREATE TABLE "${T.orders}" (id varchar(200) PRIMARY KEY, customer varchar(200) NOT NULL, total numeric NOT NULL)`,
  );
  await setup.destroy();
  const app = await NestFactory.createApplicationContext(OutboxBenchModule, { logger: ['error'] });
  const ds = app.get(DataSource);
  (ds.subscribers as unknown[]).push({
    afterTransactionCommit(event: { queryRunner: object & { isTransactionActive?: boolean } }) {
      const keys = handledIn.get(event.queryRunner);
      if (keys === undefined || event.queryRunner.isTransactionActive) return;
      handledIn.delete(event.queryRunner);
      for (const key of keys) clockRef().done(key);
    },
  });
  const events = app.get(EventBus);
  const transactions = app.get(MessagingTransactions);
  const lines = [{ sku: 'A-1', qty: 2 }];
  return {
    name: 'outbox',
    async write(m) {
      const key = m.envelope.id;
      clockRef().started(key);
      await transactions.run(async (manager) => {
        await manager.query(ORDER_SQL(T), [key]);
        await events.publish(new OrderCreated(key, 'c-1', 42, lines));
      });
    },
    async reset() {
      await ds.query(`TRUNCATE "${T.orders}", "${T.outbox}", "${T.inbox}", "${T.effect}"`);
    },
    async stop() {
      await app.close();
      const pool = new Pool({ connectionString: URL, max: 1 });
      await pool.query(`DROP TABLE IF EXISTS "${T.orders}", "${T.outbox}", "${T.inbox}", "${T.effect}"`);
      await pool.end();
    },
  };
}

async function baseline(clockRef: () => Clock): Promise<Side> {
  const pool = new Pool({ connectionString: URL, max: 30 });
  await createBaselineTables(pool, B);
  const transport = new InMemoryTransport();
  await transport.connect({ serviceName: 'bench-base', onDeadLetter() {} });
  await subscriberOn(transport, ({ id }) => recordEffect(pool, B, id, id), clockRef);
  const relay = startPollingRelay(pool, B, async (payloads) => {
    for (const payload of payloads) await transport.publish({ envelope: decodeEnvelope(payload), body: payload });
  });
  return {
    name: 'baseline',
    async write(m) {
      clockRef().started(m.envelope.id);
      await insertIntoOutbox(pool, B, m.body, m.envelope.id);
    },
    reset: () => truncateBaselineTables(pool, B),
    pause: () => relay.pause(),
    resume: () => relay.resume(),
    async stop() {
      await relay.pause();
      await transport.close(1000);
      await dropBaselineTables(pool, B);
      await pool.end();
    },
  };
}

/** One side as a load for the scenarios; its commits and handled messages go to the clock set here. */
function load(side: Side, setClock: (c: Clock) => void): Load {
  return {
    writers: WRITERS,
    reset: () => side.reset(),
    newClock() {
      const clock = new Clock();
      setClock(clock);
      return clock;
    },
    writeOne: () => side.write(message()),
  };
}

const PERCENTILES = ['p50', 'p95', 'p99'] as const;

async function main(): Promise<void> {
  let clock = new Clock();
  const setClock = (c: Clock) => (clock = c);
  const only = process.env.BENCH_ONLY; // 'outbox' or 'baseline': one side (e.g. for its RSS)
  const sides: Side[] = [];
  if (only !== 'baseline') sides.push(await ours(() => clock));
  if (only !== 'outbox') sides.push(await baseline(() => clock));
  const rssAtSetup = process.memoryUsage().rss / 1048576;
  console.log(`PostgreSQL ${redact(URL)}; ${WRITERS} writers; ${SECONDS} s per run; ${ROUNDS} round(s)`);
  let results: Record<string, SideResults>;
  let sustained: Record<string, number> | undefined;
  try {
    results = await runRounds(sides, {
      rounds: ROUNDS,
      fixedRate: FIXED_RATE,
      percentiles: PERCENTILES,
      maxRate: (side, seconds = SECONDS) => maxRate(load(side, setClock), seconds),
      fixedRateRun: (side) => fixedRate(load(side, setClock), FIXED_RATE, SECONDS),
      beforeRun: () => settleBetweenRuns(sides),
    });
    if (SUSTAINED) {
      sustained = await sustainedRates(sides, {
        start: LADDER_START,
        factor: 1.1,
        seconds: 4,
        maxP99Ms: 500,
        run: (side, rate, seconds) => fixedRate(load(side, setClock), rate, seconds),
        beforeRun: () => settleBetweenRuns(sides),
      });
    }
  } finally {
    for (const side of sides) await side.stop();
  }
  printMedians(results, ['outbox', 'baseline'], {
    fixedRate: FIXED_RATE,
    percentiles: PERCENTILES,
    median: upperMedian,
  });
  if (!only) {
    const rates = (name: string) => results[name].max.map((r) => r.rate);
    const ratio = upperMedian(rates('outbox')) / upperMedian(rates('baseline'));
    console.log(`throughput outbox / baseline: ${ratio.toFixed(2)}x`);
    if (sustained) {
      console.log(
        `sustained (on schedule, p99 < 500 ms): outbox ${sustained.outbox} msgs/s, baseline ${sustained.baseline} ` +
          `msgs/s: ${(sustained.outbox / sustained.baseline).toFixed(2)}x`,
      );
    }
  }
  console.log(
    `peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (${only ? `${only} side only` : 'both sides in one process'}; ` +
      `${rssAtSetup.toFixed(0)} MB after loading TypeORM, pg and connecting, before any message)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
