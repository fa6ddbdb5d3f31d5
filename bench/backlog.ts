/**
 * Draining a backlog: N pending outbox rows written while no relay ran (an outage, a deploy), then
 * one app instance started with the library's default options drains them through RabbitMQ to one
 * `@Subscribe` handler (inbox on, an effect row per message).
 *
 *   npm run bench:backlog                      N = 100,000
 *   npm run bench:backlog -- --large           N = 100,000 and 1,000,000
 *   BENCH_BACKLOG=20000 npm run bench:backlog  any list of sizes, comma-separated
 *   BENCH_DATABASE_URL, AMQP_URL as for the other benches
 *
 * Prints, per N: the relay's drain rate (rows marked sent / s until none is pending), the end-to-end
 * rate (messages handled / s until the last one), peak RSS of this process (the app is the only
 * thing in it; sampled every 250 ms) and RSS at the end, beside the targets of issue 12. Rows are
 * written by SQL (`generate_series`), not by the app, so the app starts with a cold heap. Tables,
 * queues and exchanges are unique to the run and deleted at the end.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { connect } from 'amqplib';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { Message, MessageContext, MESSAGING_OPTIONS, MessagingModule, Subscribe } from '../lib';
import type { ResolvedMessagingOptions } from '../lib/config/messaging-options.interface';
import { retryDelayLevels } from '../lib/consumer/retry.policy';
import { createMessagingMigration } from '../lib/outbox/outbox.migration';
import { encodeEnvelope } from '../lib/message/cloudevents.codec';
import { redact } from './bench-report';
import { BENCH_DATABASE_URL as DB_URL } from './pg-baseline';

const AMQP_URL = process.env.AMQP_URL ?? process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const SIZES = (process.env.BENCH_BACKLOG ?? (process.argv.includes('--large') ? '100000,1000000' : '100000'))
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
/** Targets (issue 12): RSS, and 2× the end-to-end drain rate measured before group commit. */
const TARGET_RSS_MB = 150;
const BEFORE_E2E = 1051;
const TYPE = 'BacklogOrderPlaced';

@Message(TYPE)
class BacklogOrderPlaced {
  constructor(
    readonly key: string,
    readonly customerId: string,
    readonly totalAmount: number,
    readonly lines: { sku: string; qty: number }[],
  ) {}
}

let handled = 0;
let target = 0;
let lastHandledAt = 0;
let allHandled: () => void = () => undefined;

function tablesOf(run: string) {
  return { outbox: `${run}_outbox`, inbox: `${run}_inbox`, effect: `${run}_effect` };
}

async function drain(n: number): Promise<void> {
  const run = `bl${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const T = tablesOf(run);
  const names = { prefix: `${run}.svc`, exchange: `${run}.events` };
  const pool = new Pool({ connectionString: DB_URL, max: 2 });

  // 1. the backlog: N pending rows, as the publisher would have written them
  const setup = new DataSource({ type: 'postgres', url: DB_URL });
  await setup.initialize();
  const Migration = createMessagingMigration({ outboxTable: T.outbox, inboxTable: T.inbox });
  await new Migration().up(setup.createQueryRunner());
  await setup.destroy();
  await pool.query(`CREATE TABLE "${T.effect}" (id varchar(200) PRIMARY KEY)`);
  const template = encodeEnvelope({
    id: '__ID__',
    type: TYPE,
    version: 1,
    time: new Date().toISOString(),
    source: 'bench',
    correlationId: '__ID__',
    headers: {},
    data: { key: '__ID__', customerId: 'c-1', totalAmount: 42, lines: [{ sku: 'A-1', qty: 2 }] },
  });
  const filled = performance.now();
  for (let start = 0; start < n; start += 100_000) {
    const count = Math.min(100_000, n - start);
    await pool.query(
      `INSERT INTO "${T.outbox}" (message_id, type, payload, headers) ` +
        `SELECT g.id, $1, replace($2, '__ID__', g.id), '{}' FROM ` +
        `(SELECT gen_random_uuid()::text AS id FROM generate_series(1, $3::int)) g`,
      [TYPE, template, count],
    );
  }
  await pool.query(`VACUUM ANALYZE "${T.outbox}"`);
  console.log(
    `N = ${n.toLocaleString('en')}: backlog written in ${((performance.now() - filled) / 1000).toFixed(1)} s`,
  );

  // 2. one app instance, default options, drains it
  @Injectable()
  class EffectsSubscriber {
    constructor(private readonly ctx: MessageContext) {}

    @Subscribe(BacklogOrderPlaced, { name: 'effects' })
    async record(event: BacklogOrderPlaced): Promise<void> {
      await this.ctx.manager.query(`INSERT INTO "${T.effect}" (id) VALUES ($1)`, [event.key]);
      handled++;
      lastHandledAt = performance.now();
      if (handled >= target) allHandled();
    }
  }
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'postgres', url: DB_URL }),
      MessagingModule.forRoot({
        serviceName: 'bench',
        transport: 'rabbitmq',
        rabbitmq: { url: AMQP_URL, exchange: names.exchange, queuePrefix: names.prefix, connectionName: run },
        // BENCH_GROUP_COMMIT=1 turns group commit off (a comparison line, never the headline)
        outbox: {
          outboxTable: T.outbox,
          inboxTable: T.inbox,
          ...(process.env.BENCH_GROUP_COMMIT ? { groupCommit: Number(process.env.BENCH_GROUP_COMMIT) } : {}),
        },
      }),
    ],
    providers: [EffectsSubscriber],
  })
  class BacklogAppModule {}

  handled = 0;
  target = n;
  const done = new Promise<void>((resolve) => (allHandled = resolve));
  let peakRss = process.memoryUsage.rss();
  let peakHeap = 0;
  // the whole of process.memoryUsage() when RSS peaked: how much of it was V8's heap, and how much outside it
  let atPeak = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) atPeak = m;
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 250);
  const started = performance.now();
  const app = await NestFactory.createApplicationContext(BacklogAppModule, { logger: ['error'] });
  const startRss = process.memoryUsage.rss();
  const delays = retryDelayLevels(app.get<ResolvedMessagingOptions>(MESSAGING_OPTIONS).retry);
  let relayDoneAt = 0;
  const relayWatch = (async () => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${T.outbox}" WHERE status = 'pending'`);
      if (rows[0].n === 0) {
        relayDoneAt = performance.now();
        return;
      }
    }
  })();
  const progress = setInterval(
    () =>
      console.log(`  handled ${handled.toLocaleString('en')} (${((performance.now() - started) / 1000).toFixed(0)} s)`),
    30_000,
  );
  await done;
  await relayWatch;
  clearInterval(progress);
  clearInterval(sampler);
  const endRss = process.memoryUsage.rss();
  peakRss = Math.max(peakRss, endRss);
  await app.close();
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${T.effect}"`);

  const relayRate = n / ((relayDoneAt - started) / 1000);
  const e2eRate = n / ((lastHandledAt - started) / 1000);
  const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
  console.log(
    `  relay drain ${relayRate.toFixed(0)} msg/s; end to end ${e2eRate.toFixed(0)} msg/s ` +
      `(target ≥ ${2 * BEFORE_E2E}, 2× the ${BEFORE_E2E} before group commit): ${(e2eRate / BEFORE_E2E).toFixed(2)}×`,
  );
  console.log(`  peak RSS ${mb(peakRss)} MB (target ≤ ${TARGET_RSS_MB} MB, flat in N); at the end ${mb(endRss)} MB`);
  // what of it is the app at rest, and what the JS heap held at most while draining
  console.log(`  RSS once the app had started ${mb(startRss)} MB; peak JS heap used ${mb(peakHeap)} MB`);
  console.log(
    `  at the RSS peak: V8 heap committed ${mb(atPeak.heapTotal)} MB (used ${mb(atPeak.heapUsed)}), ` +
      `buffers outside it ${mb(atPeak.external)} MB, the rest (code, native, allocator) ` +
      `${mb(atPeak.rss - atPeak.heapTotal - atPeak.external)} MB`,
  );
  if (rows[0].n !== n) console.log(`  ERROR: ${rows[0].n} effects for ${n} messages`);

  // 3. clean up what this run declared
  await pool.query(`DROP TABLE IF EXISTS "${T.outbox}", "${T.inbox}", "${T.effect}"`);
  await pool.end();
  const conn = await connect(AMQP_URL);
  const ch = await conn.createChannel();
  for (const q of [`${names.prefix}.effects`, `${names.prefix}.dead-letter`, `${names.prefix}.dead-letter.lock`]) {
    await ch.deleteQueue(q);
  }
  for (const ms of delays) await ch.deleteQueue(`${names.prefix}.retry.${ms}ms`);
  await ch.deleteExchange(`${names.prefix}.retry`);
  await ch.deleteExchange(names.exchange);
  await conn.close();
}

async function main(): Promise<void> {
  console.log(
    `backlog drain; PostgreSQL ${redact(DB_URL)}, RabbitMQ ${redact(AMQP_URL)}; default options, one subscriber`,
  );
  for (const n of SIZES) await drain(n);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
