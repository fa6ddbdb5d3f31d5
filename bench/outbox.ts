/**
 * End-to-end throughput and latency of the transactional outbox + relay + inbox on PostgreSQL,
 * beside a naive baseline measured in the same run.
 *
 *   npm run bench:outbox      (or: npx ts-node --transpile-only bench/outbox.ts)
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test  BENCH_ROUNDS=2  BENCH_SECONDS=5
 *
 * Both sides: 10 writers, each event committed in its own transaction (BEGIN, INSERT, COMMIT);
 * a relay publishes through the in-memory transport; one subscriber (concurrency 10) records an
 * effect in a transaction that first inserts its inbox row. Latency = commit resolved in the
 * writer → subscriber's transaction committed.
 * - ours: `OutboxFeature` (TransactionRunner + EventPublisher, relay woken by LISTEN/NOTIFY,
 *   default options: batches of 100, poll fallback 1 s), subscriber through `unitOfWork`.
 * - baseline: plain `pg`, one INSERT per transaction, a relay polling every 10 ms with
 *   `FOR UPDATE SKIP LOCKED` (batches of 100), an inbox INSERT per message.
 * BENCH_ONLY=outbox (or baseline) runs one side only, e.g. to read its peak RSS alone.
 * Scenarios: max rate (writers flat out for BENCH_SECONDS, then drain; msgs/s = messages / time
 * until the last one was handled) and a fixed 500 msgs/s (open loop). Rounds alternate sides.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { OutboxFeature } from '../lib/outbox/outbox.feature';
import { createMessagingMigration } from '../lib/outbox/outbox.migration';
import { InMemoryTransport } from '../lib/transport/in-memory/in-memory.transport';
import { decodeEnvelope, encodeEnvelope } from '../lib/message/cloudevents.codec';
import { uuidv7 } from '../lib/message/uuid-v7';
import type { DeliveryHandler, OutboundMessage } from '../lib/transport/transport.interface';
import type { MessageEnvelope } from '../lib/message/envelope';

const URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WRITERS = 10;
const FIXED_RATE = 500;
const SUFFIX = `${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
const T = { outbox: `bench_outbox_${SUFFIX}`, inbox: `bench_inbox_${SUFFIX}`, effect: `bench_effect_${SUFFIX}` };
const B = {
  outbox: `bench_base_outbox_${SUFFIX}`,
  inbox: `bench_base_inbox_${SUFFIX}`,
  effect: `bench_base_effect_${SUFFIX}`,
};
const silent = { log() {}, warn() {}, error: (m: string) => console.error(m) };

interface Side {
  name: string;
  write(message: OutboundMessage): Promise<void>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

interface Result {
  msgs: number;
  seconds: number;
  rate: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Commit and handled times per message id. */
class Clock {
  commits = new Map<string, number>();
  handledEarly = new Map<string, number>();
  latencies: number[] = [];
  handled = 0;
  lastHandledAt = 0;
  private waiter?: { n: number; resolve: () => void };

  committed(id: string): void {
    const now = performance.now();
    const early = this.handledEarly.get(id);
    if (early !== undefined) {
      this.handledEarly.delete(id);
      this.latencies.push(Math.max(0, early - now));
    } else this.commits.set(id, now);
  }

  done(id: string): void {
    const now = performance.now();
    const at = this.commits.get(id);
    if (at === undefined) this.handledEarly.set(id, now);
    else {
      this.commits.delete(id);
      this.latencies.push(now - at);
    }
    this.handled++;
    this.lastHandledAt = now;
    if (this.waiter && this.handled >= this.waiter.n) this.waiter.resolve();
  }

  waitFor(n: number): Promise<void> {
    if (this.handled >= n) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { n, resolve }));
  }
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

async function ours(clockRef: () => Clock): Promise<Side> {
  const ds = new DataSource({ type: 'postgres', url: URL, poolSize: 30 });
  await ds.initialize();
  const Migration = createMessagingMigration({ outboxTable: T.outbox, inboxTable: T.inbox });
  await new Migration().up(ds.createQueryRunner());
  await ds.query(`CREATE TABLE "${T.effect}" (id varchar(200) PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
  const transport = new InMemoryTransport();
  await transport.connect({ serviceName: 'bench', onDeadLetter() {} });
  const feature = new OutboxFeature({ outboxTable: T.outbox, inboxTable: T.inbox }, ds, transport, silent);
  await subscriberOn(
    transport,
    async (envelope) => {
      await feature.unitOfWork!.run(envelope, 'effects', async (tx) => {
        await (tx as DataSource['manager']).query(`INSERT INTO "${T.effect}" (id) VALUES ($1)`, [envelope.id]);
      });
    },
    clockRef,
  );
  await feature.start();
  return {
    name: 'outbox',
    async write(m) {
      await feature.transactions.run(() => feature.publisher.publish([m], {}));
      clockRef().committed(m.envelope.id);
    },
    async reset() {
      await ds.query(`TRUNCATE "${T.outbox}", "${T.inbox}", "${T.effect}"`);
    },
    async stop() {
      await feature.stop();
      await transport.close(1000);
      await ds.query(`DROP TABLE IF EXISTS "${T.outbox}", "${T.inbox}", "${T.effect}"`);
      await ds.destroy();
    },
  };
}

async function baseline(clockRef: () => Clock): Promise<Side> {
  const pool = new Pool({ connectionString: URL, max: 30 });
  await pool.query(
    `CREATE TABLE "${B.outbox}" (id bigserial PRIMARY KEY, payload text NOT NULL, sent boolean NOT NULL DEFAULT false);` +
      `CREATE INDEX ON "${B.outbox}" (id) WHERE NOT sent;` +
      `CREATE TABLE "${B.inbox}" (message_id varchar(200), subscriber varchar(255), PRIMARY KEY (message_id, subscriber));` +
      `CREATE TABLE "${B.effect}" (id varchar(200) PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
  );
  const transport = new InMemoryTransport();
  await transport.connect({ serviceName: 'bench-base', onDeadLetter() {} });
  await subscriberOn(
    transport,
    async ({ id }) => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await c.query(`INSERT INTO "${B.inbox}" VALUES ($1, 'effects') ON CONFLICT DO NOTHING`, [id]);
        if (r.rowCount === 1) await c.query(`INSERT INTO "${B.effect}" (id) VALUES ($1)`, [id]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    },
    clockRef,
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
          await transport.publish({ envelope: decodeEnvelope(row.payload), body: row.payload });
        }
        if (n)
          await c.query(`UPDATE "${B.outbox}" SET sent = true WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      if (n < 100) await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    name: 'baseline',
    async write(m) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(`INSERT INTO "${B.outbox}" (payload) VALUES ($1)`, [m.body]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      clockRef().committed(m.envelope.id);
    },
    async reset() {
      await pool.query(`TRUNCATE "${B.outbox}", "${B.inbox}", "${B.effect}"`);
    },
    async stop() {
      stopping = true;
      await relay;
      await transport.close(1000);
      await pool.query(`DROP TABLE IF EXISTS "${B.outbox}", "${B.inbox}", "${B.effect}"`);
      await pool.end();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(clock: Clock, msgs: number, startedAt: number): Result {
  const sorted = clock.latencies.slice().sort((a, b) => a - b);
  const seconds = (clock.lastHandledAt - startedAt) / 1000;
  return {
    msgs,
    seconds,
    rate: msgs / seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
}

async function maxRate(side: Side, setClock: (c: Clock) => void, seconds = SECONDS): Promise<Result> {
  await side.reset();
  const clock = new Clock();
  setClock(clock);
  let written = 0;
  const startedAt = performance.now();
  const until = startedAt + seconds * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < until) {
        await side.write(message());
        written++;
      }
    }),
  );
  await clock.waitFor(written);
  return summarize(clock, written, startedAt);
}

async function fixedRate(side: Side, setClock: (c: Clock) => void): Promise<Result> {
  await side.reset();
  const clock = new Clock();
  setClock(clock);
  const total = FIXED_RATE * SECONDS;
  const startedAt = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / FIXED_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= WRITERS) await Promise.race(inFlight);
    const p: Promise<void> = side.write(message()).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  await clock.waitFor(total);
  return summarize(clock, total, startedAt);
}

const fmt = (r: Result) =>
  `${r.rate.toFixed(0).padStart(6)} msgs/s  (${r.msgs} in ${r.seconds.toFixed(2)} s)   ` +
  `p50 ${r.p50.toFixed(1).padStart(6)} ms  p95 ${r.p95.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms`;

async function main(): Promise<void> {
  let clock = new Clock();
  const setClock = (c: Clock) => (clock = c);
  const only = process.env.BENCH_ONLY; // 'outbox' or 'baseline': one side (e.g. for its RSS)
  const sides: Side[] = [];
  if (only !== 'baseline') sides.push(await ours(() => clock));
  if (only !== 'outbox') sides.push(await baseline(() => clock));
  const results: Record<string, { max: Result[]; fixed: Result[] }> = {
    outbox: { max: [], fixed: [] },
    baseline: { max: [], fixed: [] },
  };
  const rssAtSetup = process.memoryUsage().rss / 1048576;
  console.log(
    `PostgreSQL ${URL.replace(/:[^:@/]*@/, ':***@')}; ${WRITERS} writers; ${SECONDS} s per run; ${ROUNDS} round(s)`,
  );
  try {
    // warm-up (JIT, connections, plans)
    for (const side of sides) await maxRate(side, setClock, 1);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const r = await maxRate(side, setClock);
        results[side.name].max.push(r);
        console.log(`round ${round + 1} max   ${side.name.padEnd(8)} ${fmt(r)}`);
      }
      for (const side of order) {
        const r = await fixedRate(side, setClock);
        results[side.name].fixed.push(r);
        console.log(`round ${round + 1} ${FIXED_RATE}/s ${side.name.padEnd(8)} ${fmt(r)}`);
      }
    }
  } finally {
    for (const side of sides) await side.stop();
  }
  const median = (rs: Result[], key: keyof Result) => {
    const v = rs.map((r) => r[key]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  console.log('\nmedians over rounds');
  for (const scenario of ['max', 'fixed'] as const) {
    for (const name of ['outbox', 'baseline']) {
      const rs = results[name][scenario];
      if (rs.length === 0) continue;
      console.log(
        `${(scenario === 'max' ? 'max rate' : `${FIXED_RATE} msgs/s`).padEnd(11)} ${name.padEnd(8)} ` +
          `${median(rs, 'rate').toFixed(0).padStart(6)} msgs/s   p50 ${median(rs, 'p50').toFixed(1)} ms  ` +
          `p95 ${median(rs, 'p95').toFixed(1)} ms  p99 ${median(rs, 'p99').toFixed(1)} ms`,
      );
    }
  }
  if (!only) {
    const ratio = median(results.outbox.max, 'rate') / median(results.baseline.max, 'rate');
    console.log(`throughput outbox / baseline: ${ratio.toFixed(2)}x`);
  }
  console.log(
    `peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (both sides in one process; ` +
      `${rssAtSetup.toFixed(0)} MB after loading ts-node, TypeORM, pg and connecting, before any message)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
