import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TEST_DATABASE_URL } from '../setup/services';
import { DeadLetterService, EventBus, MessageContext, Subscribe, createMessagingEntities } from '../../lib';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';

// A handler that never returns must not keep its transaction (and its locks and pooled connection)
// after its timeout: each attempt is abandoned, the message dead-letters after
// attempts × (timeout + backoff), and the pool still serves other messages.

const suffix = randomBytes(3).toString('hex');
const outboxTable = `hang_outbox_${suffix}`;
const inboxTable = `hang_inbox_${suffix}`;
const effectsTable = `hang_effects_${suffix}`;
const applicationName = `hang_${suffix}`;
const TIMEOUT_MS = 300;
const BACKOFF_MS = 50;
const ATTEMPTS = 3;

let release!: () => void;
const gate = new Promise<void>((resolve) => (release = resolve));
const lateWrites: Array<'failed' | 'written'> = [];
const started: number[] = [];

@Injectable()
class Hanger {
  constructor(private readonly ctx: MessageContext) {}

  /** Writes, then hangs until the test opens the gate, then tries to write again. */
  @Subscribe('Hang', {
    name: 'hanger',
    timeoutMs: TIMEOUT_MS,
    retry: { maxRetries: ATTEMPTS - 1, initialDelayMs: BACKOFF_MS, maxDelayMs: BACKOFF_MS, jitter: 0 },
  })
  async hang(event: { key: string; sleep?: boolean }): Promise<void> {
    started.push(Date.now());
    const manager = this.ctx.manager as DataSource['manager'];
    await manager.query(`INSERT INTO ${effectsTable} (key) VALUES ($1)`, [event.key]);
    if (event.sleep) await manager.query('SELECT pg_sleep(30)').catch(() => undefined);
    else await gate;
    try {
      await manager.query(`INSERT INTO ${effectsTable} (key) VALUES ($1)`, [`${event.key}-late`]);
      lateWrites.push('written');
    } catch {
      lateWrites.push('failed');
    }
  }

  @Subscribe('Work', { name: 'worker' })
  async work(event: { key: string }): Promise<void> {
    const manager = this.ctx.manager as DataSource['manager'];
    await manager.query(`INSERT INTO ${effectsTable} (key) VALUES ($1)`, [event.key]);
  }
}

describe('a hanging handler with the PostgreSQL inbox', () => {
  let app: TestingModule;
  let ds: DataSource;

  beforeAll(async () => {
    app = await startApp([Hanger], { outbox: { outboxTable, inboxTable, pollIntervalMs: 20 } }, [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: TEST_DATABASE_URL,
        applicationName,
        poolSize: 3, // fewer connections than hung attempts: a leak drains it
        entities: createMessagingEntities({ database: 'postgres', outboxTable, inboxTable }),
        synchronize: true,
      }),
    ]);
    ds = app.get(DataSource);
    await ds.query(`CREATE TABLE ${effectsTable} (key text NOT NULL)`);
  });

  afterAll(async () => {
    release();
    await ds?.query(`DROP TABLE IF EXISTS ${effectsTable}, ${outboxTable}, ${inboxTable}`).catch(() => undefined);
    await app?.close();
  });

  const effects = async (key: string) =>
    Number((await ds.query(`SELECT count(*) AS n FROM ${effectsTable} WHERE key = $1`, [key]))[0].n);
  const idleInTransaction = async () =>
    Number(
      (
        await ds.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'`,
          [applicationName],
        )
      )[0].n,
    );

  it.each([
    ['awaiting forever', false],
    ['stuck in a statement', true],
  ])('%s: dead-lettered after every attempt timed out, nothing committed, no connection kept', async (_, sleep) => {
    const key = `k-${sleep}`;
    const dlq = app.get(DeadLetterService);
    started.length = 0;
    const t0 = Date.now();
    await app.get(EventBus).publish({ type: 'Hang', key, sleep });
    await waitFor(
      async () => (await dlq.list()).some((d) => (d.envelope?.data as { key?: string })?.key === key),
      'the dead letter',
      // attempts × (timeout + backoff), plus the relay's and the test's own slack
      ATTEMPTS * (TIMEOUT_MS + BACKOFF_MS) + 3000,
    );
    const elapsed = Date.now() - t0;
    const letter = (await dlq.list()).find((d) => (d.envelope?.data as { key?: string })?.key === key)!;
    expect(letter.attempts).toBe(ATTEMPTS);
    expect(letter.error.name).toBe('HandlerTimeoutError');
    // each attempt ran its handler: none waited on a lock an abandoned attempt still held
    expect(started).toHaveLength(ATTEMPTS);
    expect(elapsed).toBeGreaterThanOrEqual(ATTEMPTS * TIMEOUT_MS);
    // no attempt committed its write, and no abandoned transaction is left open
    expect(await effects(key)).toBe(0);
    await waitFor(async () => (await idleInTransaction()) === 0, 'no idle-in-transaction backend', 5000);
    // the pool (3 connections, 3 hung attempts) still serves other messages
    await app.get(EventBus).publish({ type: 'Work', key: `w-${sleep}` });
    await waitFor(async () => (await effects(`w-${sleep}`)) === 1, 'the next message handled', 5000);
  });

  it('an abandoned handler that wakes up later cannot write outside its transaction', async () => {
    release();
    await waitFor(() => lateWrites.length >= ATTEMPTS, 'the abandoned handlers to wake', 5000);
    expect(lateWrites.every((w) => w === 'failed')).toBe(true);
    expect(await effects('k-false-late')).toBe(0);
  });
});
