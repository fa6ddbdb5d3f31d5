/**
 * The chaos suite's orchestrator: separate OS processes for the producer (+ outbox relay) and the
 * consumer (two inbox subscribers), real PostgreSQL and RabbitMQ, faults injected while orders
 * flow, and per scenario the count of lost, duplicated and unexpected effects.
 *
 * Configuration (env): CHAOS_DATABASE_URL (default TEST_DATABASE_URL), CHAOS_AMQP_URL (default
 * TEST_AMQP_URL), CHAOS_RABBITMQ_NODE (`rabbitmqctl -n`), CHAOS_PG_CLUSTER (default "15 main",
 * for `pg_ctlcluster`). Broker and database restarts are undone even when a scenario fails.
 */
import { execFile, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { isPoison } from './chaos-keys';
import { settledQueries } from './chaos-queries';

const exec = promisify(execFile);
export const CHAOS_DATABASE_URL = process.env.CHAOS_DATABASE_URL ?? TEST_DATABASE_URL;
export const CHAOS_AMQP_URL = process.env.CHAOS_AMQP_URL ?? TEST_AMQP_URL;
const RABBIT_NODE = process.env.CHAOS_RABBITMQ_NODE ? ['-n', process.env.CHAOS_RABBITMQ_NODE] : [];
const PG_CLUSTER = (process.env.CHAOS_PG_CLUSTER ?? `${process.env.PG_VERSION ?? '15'} main`).split(' ');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rabbitmqctl = (...args: string[]) => exec('rabbitmqctl', [...RABBIT_NODE, ...args], { timeout: 60_000 });

/** One scenario's outcome. */
export interface ScenarioResult {
  scenario: string;
  orders: number;
  committed: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  unexpectedExits: number;
  faults: number;
  /** Longest time from the end of a fault to the consumer handling a new order again, seconds. */
  recoverySeconds: number;
  /** Seconds to drain after production ended. */
  drainSeconds: number;
  /** Routed queries the last producer asked; those not settled by the end (a caller waiting forever). */
  queriesAsked: number;
  queriesUnsettled: number;
  notes: string[];
}

/** What a scenario does while orders flow. */
interface Scenario {
  name: string;
  /** Faults injected during production, evenly spaced. */
  faults: number;
  fault?: (ctx: ScenarioContext, i: number) => Promise<void>;
}

interface Proc {
  role: 'producer' | 'consumer';
  child: ChildProcess;
  messages: Array<Record<string, unknown>>;
  expectedExit: boolean;
  stderr: string;
}

class ScenarioContext {
  producer!: Proc;
  consumer!: Proc;
  unexpectedExits = 0;
  notes: string[] = [];
  recovery = 0;
  produced = 0;
  /** The orders still to produce (set by the scenario runner). */
  remaining: () => { from: number; count: number } = () => ({ from: 0, count: 0 });
  private incarnation = 0;

  constructor(
    readonly run: string,
    private db: Client,
  ) {}

  start(role: 'producer' | 'consumer'): Proc {
    const child = fork(join(__dirname, 'chaos-app.ts'), [], {
      cwd: join(__dirname, '..', '..'),
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      env: { ...process.env, ROLE: role, RUN: this.run, DB_URL: CHAOS_DATABASE_URL, AMQP_URL: CHAOS_AMQP_URL },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const proc: Proc = { role, child, messages: [], expectedExit: false, stderr: '' };
    child.stderr!.on('data', (d) => (proc.stderr = (proc.stderr + d).slice(-4000)));
    child.on('message', (m) => {
      const message = m as Record<string, unknown>;
      if (typeof message.produced === 'number') this.produced = Math.max(this.produced, message.produced + 1);
      else proc.messages.push(message);
    });
    child.on('exit', (code, signal) => {
      if (!proc.expectedExit) {
        this.unexpectedExits++;
        this.notes.push(`${role} exited unexpectedly (code ${code}, signal ${signal}): ${proc.stderr.slice(-500)}`);
      }
    });
    if (role === 'producer') this.producer = proc;
    else this.consumer = proc;
    return proc;
  }

  async ready(proc: Proc, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!proc.messages.some((m) => m.ready)) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`${proc.role} exited before it was ready: ${proc.stderr.slice(-1000)}`);
      }
      if (Date.now() > deadline)
        throw new Error(`${proc.role} not ready after ${timeoutMs} ms: ${proc.stderr.slice(-1000)}`);
      await sleep(50);
    }
  }

  /** Starts producing `count` orders from `from` on the current producer, with a fresh id prefix. */
  produce(from: number, count: number, intervalMs: number): void {
    this.incarnation++;
    this.producer.child.send({ produce: { prefix: `${this.run}.${this.incarnation}`, from, count, intervalMs } });
  }

  async kill(proc: Proc, signal: NodeJS.Signals): Promise<void> {
    proc.expectedExit = true;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.child.once('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
    const result = await Promise.race([exited, sleep(20_000).then(() => undefined)]);
    if (result === undefined) {
      this.notes.push(`${proc.role} did not exit within 20 s of ${signal}`);
      proc.child.kill('SIGKILL');
    } else if (signal === 'SIGTERM' && result.code !== 0 && result.signal !== 'SIGTERM') {
      // a graceful stop exits 0, or by the SIGTERM Nest raises again once the app is closed
      this.unexpectedExits++;
      this.notes.push(`${proc.role} exited with code ${result.code} on SIGTERM`);
    }
  }

  async effectCount(): Promise<number> {
    return Number((await this.query(`SELECT count(*) AS n FROM chaos_effects_${this.run}`))[0].n);
  }

  /**
   * Waits until the consumer handles a new order again (effects grow) — or has nothing left to
   * handle — recording the time since `since`.
   */
  async recovered(since: number, timeoutMs = 60_000): Promise<void> {
    const before = await this.effectCount();
    const deadline = Date.now() + timeoutMs;
    while ((await this.effectCount()) <= before && !(await this.idle())) {
      if (Date.now() > deadline) {
        this.notes.push(`no new effect within ${timeoutMs / 1000} s after a fault`);
        return;
      }
      await sleep(100);
    }
    this.recovery = Math.max(this.recovery, (Date.now() - since) / 1000);
  }

  /** Nothing to handle: no due outbox row, and every committed order has its effects (poison ones aside). */
  async idle(): Promise<boolean> {
    const [{ pending }] = await this.query(
      `SELECT count(*) AS pending FROM (SELECT status, available_at FROM chaos_outbox_${this.run} UNION ALL ` +
        `SELECT status, available_at FROM chaos_outbox_c_${this.run}) o WHERE status = 'pending' AND available_at <= now()`,
    );
    if (Number(pending) > 0) return false;
    return (await missingEffects(this, this.run)).length === 0;
  }

  /** Queries the database, reconnecting after a restart of PostgreSQL. */
  async query(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.db.query(sql, params)).rows;
      } catch (error) {
        if (attempt >= 60) throw error;
        await sleep(500);
        await this.reconnectDb();
      }
    }
  }

  private async reconnectDb(): Promise<void> {
    await this.db.end().catch(() => undefined);
    const db = new Client({ connectionString: CHAOS_DATABASE_URL });
    db.on('error', () => undefined);
    await db.connect().catch(() => undefined);
    this.db = db;
  }

  async close(): Promise<void> {
    await this.db.end().catch(() => undefined);
  }
}

async function restartConsumer(ctx: ScenarioContext, signal: NodeJS.Signals): Promise<void> {
  await ctx.kill(ctx.consumer, signal);
  const since = Date.now();
  await ctx.ready(ctx.start('consumer'));
  await ctx.recovered(since);
}

async function restartProducer(ctx: ScenarioContext): Promise<void> {
  await ctx.kill(ctx.producer, 'SIGKILL');
  await ctx.ready(ctx.start('producer'));
  const { from, count } = ctx.remaining();
  if (count > 0) ctx.produce(from, count, intervalMs);
}

let intervalMs = 10;
let stoppedBroker = false;
let stoppedDatabase = false;

/** Brings back what a scenario stopped (also on exit, and when a scenario failed). */
export async function restoreServices(): Promise<void> {
  if (stoppedBroker) {
    await rabbitmqctl('start_app').catch(() => undefined);
    stoppedBroker = false;
  }
  if (stoppedDatabase) {
    await exec('pg_ctlcluster', ['--skip-systemctl-redirect', ...PG_CLUSTER, 'start']).catch(() => undefined);
    stoppedDatabase = false;
  }
}
process.once('exit', () => {
  // last resort, synchronous: nothing async runs in an exit handler
  if (stoppedBroker) spawnSync('rabbitmqctl', [...RABBIT_NODE, 'start_app']);
  if (stoppedDatabase) spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', ...PG_CLUSTER, 'start']);
});

const terminateBackends = async (ctx: ScenarioContext) => {
  await ctx.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1`, [
    `chaos_${ctx.run}_%`,
  ]);
  await ctx.recovered(Date.now());
};
const closeAllConnections = async (ctx: ScenarioContext) => {
  await rabbitmqctl('close_all_connections', 'chaos');
  await ctx.recovered(Date.now());
};

/** The scenarios, in order. */
export function scenarios(kills: number): Scenario[] {
  return [
    { name: 'baseline', faults: 0 },
    { name: 'SIGKILL consumer', faults: kills, fault: (ctx) => restartConsumer(ctx, 'SIGKILL') },
    { name: 'SIGKILL producer+relay', faults: kills, fault: (ctx) => restartProducer(ctx) },
    { name: 'close_all_connections', faults: 3, fault: closeAllConnections },
    {
      name: 'close_all_connections during bootstrap',
      faults: 2,
      fault: async (ctx) => {
        await ctx.kill(ctx.consumer, 'SIGKILL');
        const since = Date.now();
        const proc = ctx.start('consumer');
        await sleep(1_500); // the Nest app is connecting and declaring its topology
        await rabbitmqctl('close_all_connections', 'chaos during bootstrap');
        await ctx.ready(proc);
        await ctx.recovered(since);
      },
    },
    { name: 'pg_terminate_backend', faults: 4, fault: terminateBackends },
    {
      name: 'broker restart',
      faults: 1,
      fault: async (ctx) => {
        stoppedBroker = true;
        try {
          await rabbitmqctl('stop_app');
          await sleep(2_000);
        } finally {
          await restoreServices();
        }
        await ctx.recovered(Date.now());
      },
    },
    {
      name: 'PostgreSQL restart',
      faults: 1,
      fault: async (ctx) => {
        stoppedDatabase = true;
        try {
          await exec('pg_ctlcluster', ['--skip-systemctl-redirect', ...PG_CLUSTER, 'restart', '-m', 'fast']);
        } finally {
          stoppedDatabase = false;
          await restoreServices();
        }
        await ctx.recovered(Date.now());
      },
    },
    { name: 'SIGTERM consumer in flight', faults: 3, fault: (ctx) => restartConsumer(ctx, 'SIGTERM') },
    {
      name: 'mixed',
      faults: 6,
      fault: async (ctx, i) => {
        const faults = [
          () => restartConsumer(ctx, 'SIGKILL'),
          () => closeAllConnections(ctx),
          () => terminateBackends(ctx),
          () => restartProducer(ctx),
          () => restartConsumer(ctx, 'SIGTERM'),
          () => terminateBackends(ctx),
        ];
        await faults[i % faults.length]();
      },
    },
  ];
}

/** Runs the scenarios with `orders` orders each; returns one result per scenario. */
export async function runChaos(options: {
  orders: number;
  kills: number;
  ratePerSecond: number;
  only?: string[];
  log?: (line: string) => void;
}): Promise<ScenarioResult[]> {
  const log = options.log ?? (() => undefined);
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios(options.kills)) {
    if (options.only && !options.only.some((o) => scenario.name.includes(o))) continue;
    // orders keep flowing while the faults happen (about 4 s for a fault and its recovery)
    intervalMs = Math.max(1000 / options.ratePerSecond, ((scenario.faults + 1) * 4_000) / options.orders);
    log(`scenario: ${scenario.name}`);
    try {
      results.push(await runScenario(scenario, options.orders));
    } finally {
      await restoreServices();
    }
    const r = results[results.length - 1];
    log(
      `  ${r.committed}/${r.orders} committed, lost ${r.lost}, dup ${r.duplicated}, unexpected ${r.unexpected}, exits ${r.unexpectedExits}`,
    );
  }
  return results;
}

async function runScenario(scenario: Scenario, orders: number): Promise<ScenarioResult> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const db = new Client({ connectionString: CHAOS_DATABASE_URL });
  db.on('error', () => undefined);
  await db.connect();
  const ctx = new ScenarioContext(run, db);
  ctx.remaining = () => ({
    from: ctx.produced,
    count: orders - ctx.produced,
  });
  await db.query(`CREATE TABLE chaos_orders_${run} (id text PRIMARY KEY)`);
  await db.query(`CREATE TABLE chaos_effects_${run} (order_id text NOT NULL, subscriber text NOT NULL)`);
  await db.query(`CREATE TABLE chaos_healed_${run} (healed boolean)`);
  const { createMessagingMigration } = await import('../../lib/outbox/outbox.migration');
  const { DataSource } = await import('typeorm');
  const ds = new DataSource({ type: 'postgres', url: CHAOS_DATABASE_URL });
  await ds.initialize();
  const qr = ds.createQueryRunner();
  await new (createMessagingMigration({ outboxTable: `chaos_outbox_${run}`, inboxTable: `chaos_inbox_${run}` }))().up(
    qr,
  );
  // the consumer's service has an outbox of its own (its retries); the producer's inbox goes unused
  await new (createMessagingMigration({
    outboxTable: `chaos_outbox_c_${run}`,
    inboxTable: `chaos_inbox_p_${run}`,
  }))().up(qr);
  await qr.release();
  await ds.destroy();
  const started = Date.now();
  let drainSeconds = 0;
  let queriesAsked = 0;
  let queriesUnsettled = 0;
  try {
    await Promise.all([ctx.ready(ctx.start('consumer')), ctx.ready(ctx.start('producer'))]);
    ctx.produce(0, orders, intervalMs);
    const productionMs = orders * intervalMs;
    for (let i = 0; i < scenario.faults; i++) {
      // evenly over the production window
      const at = started + ((i + 1) * productionMs) / (scenario.faults + 1);
      if (Date.now() < at) await sleep(at - Date.now());
      await scenario.fault!(ctx, i);
    }
    // production ends
    const endOfProduction = Date.now() + 120_000;
    while (ctx.produced < orders && Date.now() < endOfProduction) await sleep(100);
    const drainStart = Date.now();
    await drain(ctx, run, 90_000);
    // heal the poison orders and replay their dead letters (only billing fails for them), as an
    // operator would: again while some are still missing (a poison order still in its retries when
    // the first replay ran is dead-lettered after it)
    await ctx.query(`INSERT INTO chaos_healed_${run} VALUES (true)`);
    for (let round = 0; round < 6; round++) {
      const seen = ctx.consumer.messages.length;
      ctx.consumer.child.send({ replay: true });
      const deadline = Date.now() + 30_000;
      while (!ctx.consumer.messages.slice(seen).some((m) => 'replayed' in m || 'error' in m) && Date.now() < deadline) {
        await sleep(100);
      }
      if (await drain(ctx, run, 15_000, round === 5)) break;
    }
    drainSeconds = (Date.now() - drainStart) / 1000;
    const queries = await settledQueries(ctx.producer);
    queriesAsked = queries?.asked ?? 0;
    queriesUnsettled = queries ? queries.asked - queries.settled : 0;
    if (queries === undefined) ctx.notes.push('the producer did not report its routed queries');
    else if (queriesUnsettled > 0)
      ctx.notes.push(`${queriesUnsettled} routed queries never settled: ${JSON.stringify(queries)}`);
  } finally {
    await Promise.all(
      [ctx.producer, ctx.consumer].filter(Boolean).map(async (p) => {
        p.expectedExit = true;
        p.child.send?.({ exit: true });
        await Promise.race([new Promise((r) => p.child.once('exit', r)), sleep(8_000)]);
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      }),
    );
  }
  const result = await count(ctx, run);
  await ctx.query(
    `DROP TABLE IF EXISTS chaos_orders_${run}, chaos_effects_${run}, chaos_healed_${run}, chaos_outbox_${run}, chaos_inbox_${run}, ` +
      `chaos_outbox_c_${run}, chaos_inbox_p_${run}`,
  );
  await ctx.close();
  await cleanupBroker(run);
  return {
    scenario: scenario.name,
    orders,
    ...result,
    unexpectedExits: ctx.unexpectedExits,
    faults: scenario.faults,
    recoverySeconds: Math.round(ctx.recovery * 10) / 10,
    drainSeconds: Math.round(drainSeconds * 10) / 10,
    queriesAsked,
    queriesUnsettled,
    notes: ctx.notes,
  };
}

/** Effects not there yet: both per committed order, billing's of poison orders only once healed. */
async function missingEffects(ctx: ScenarioContext, run: string): Promise<Array<Record<string, unknown>>> {
  const healed = (await ctx.query(`SELECT 1 FROM chaos_healed_${run}`)).length > 0;
  const missing = await ctx.query(
    `SELECT o.id, s.subscriber FROM chaos_orders_${run} o CROSS JOIN (VALUES ('billing'), ('shipping'), ('command')) s(subscriber) ` +
      `WHERE NOT EXISTS (SELECT 1 FROM chaos_effects_${run} e WHERE e.order_id = o.id AND e.subscriber = s.subscriber)`,
  );
  return missing.filter((m) => healed || !(m.subscriber === 'billing' && isPoison(String(m.id))));
}

/**
 * Waits until the outbox is empty and every committed order has both effects (poison ones: shipping
 * only until healed); false after `timeoutMs` (noted when `note`).
 */
async function drain(ctx: ScenarioContext, run: string, timeoutMs: number, note = true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ pending }] = await ctx.query(
      `SELECT count(*) AS pending FROM (SELECT status, available_at FROM chaos_outbox_${run} UNION ALL ` +
        `SELECT status, available_at FROM chaos_outbox_c_${run}) o ` +
        `WHERE status = 'pending' AND available_at <= now() + interval '30 seconds'`,
    );
    const stillMissing = await missingEffects(ctx, run);
    if (Number(pending) === 0 && stillMissing.length === 0) return true;
    if (Date.now() > deadline) {
      if (note)
        ctx.notes.push(`drain timed out: ${pending} outbox rows pending, ${stillMissing.length} effects missing`);
      return false;
    }
    await sleep(250);
  }
}

async function count(
  ctx: ScenarioContext,
  run: string,
): Promise<Pick<ScenarioResult, 'committed' | 'lost' | 'duplicated' | 'unexpected'>> {
  const [{ committed }] = await ctx.query(`SELECT count(*) AS committed FROM chaos_orders_${run}`);
  const [{ lost }] = await ctx.query(
    `SELECT count(*) AS lost FROM chaos_orders_${run} o CROSS JOIN (VALUES ('billing'), ('shipping'), ('command')) s(subscriber) ` +
      `WHERE NOT EXISTS (SELECT 1 FROM chaos_effects_${run} e WHERE e.order_id = o.id AND e.subscriber = s.subscriber)`,
  );
  const [{ duplicated }] = await ctx.query(
    `SELECT count(*) AS duplicated FROM (SELECT order_id, subscriber FROM chaos_effects_${run} ` +
      `GROUP BY order_id, subscriber HAVING count(*) > 1) d`,
  );
  const [{ unexpected }] = await ctx.query(
    `SELECT count(*) AS unexpected FROM chaos_effects_${run} e WHERE NOT EXISTS (SELECT 1 FROM chaos_orders_${run} o WHERE o.id = e.order_id)`,
  );
  return {
    committed: Number(committed),
    lost: Number(lost),
    duplicated: Number(duplicated),
    unexpected: Number(unexpected),
  };
}

/** Deletes the scenario's queues and exchanges (listed with rabbitmqctl). */
async function cleanupBroker(run: string): Promise<void> {
  const { connect } = await import('amqplib');
  const conn = await connect(CHAOS_AMQP_URL).catch(() => undefined);
  if (!conn) return;
  conn.on('error', () => undefined);
  try {
    const { stdout } = await rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name').catch(() => ({
      stdout: '',
    }));
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of stdout.split('\n').filter((n) => n.startsWith(`chaos-${run}`)))
      await ch.deleteQueue(q).catch(() => undefined);
    for (const x of [`chaos.${run}.events`, `chaos-${run}.retry`, `chaos-${run}-orders.retry`])
      await ch.deleteExchange(x).catch(() => undefined);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** The results as a Markdown table. */
export function table(results: ScenarioResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.orders} | ${r.committed} | ${r.faults} | ${r.lost} | ${r.duplicated} | ${r.unexpected} | ${r.unexpectedExits} | ${r.queriesAsked} | ${r.queriesUnsettled} | ${r.recoverySeconds} | ${r.drainSeconds} |`,
  );
  return [
    '| scenario | orders | committed | faults | lost | duplicated | unexpected | unexpected exits | queries asked | queries unsettled | max recovery s | drain s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
