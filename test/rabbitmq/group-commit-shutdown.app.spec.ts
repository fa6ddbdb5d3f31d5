import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  DeadLetterService,
  EventBus,
  Message,
  MessageContext,
  MessagingTransactions,
  Subscribe,
  SubscriberStats,
  createMessagingEntities,
  type MessagingModuleOptions,
} from '../../lib';
import { TEST_DATABASE_URL } from '../setup/services';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';
import { TEST_AMQP_URL, cleanup, runId } from './rabbitmq-test.helpers';

/*
 * Shutdown of a grouped subscriber while deliveries wait: one held in a handler past the shutdown
 * timeout, some queued in the commit group behind it, more in the transport's prefetch buffer.
 * Those whose handler never started go back to the queue uncounted (attempt 1 at the next app,
 * nothing dead-lettered); the one that started keeps the old behaviour (it comes back counted and
 * the inbox absorbs it if it committed). Every message takes effect exactly once.
 */
const run = runId();
const exchange = `${run}.events`;
const service = `${run}-gcs`;
const tables = { outboxTable: `gcs_outbox_${run}`, inboxTable: `gcs_inbox_${run}` };
const effects = `gcs_effects_${run}`;
const SHUTDOWN_TIMEOUT_MS = 800;

@Message('ShutdownOrder')
class ShutdownOrder {
  constructor(readonly key: string) {}
}

/** Keys whose handler started in the first app. */
const startedInFirst = new Set<string>();
/** Holds the first app's handlers (past its shutdown timeout); undefined in the second app. */
let gate: Promise<void> | undefined;
let openGate = (): void => undefined;

@Injectable()
class Slow {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe(ShutdownOrder, { name: 'slow', concurrency: 1 })
  async handle(event: ShutdownOrder): Promise<void> {
    const app = gate ? 'first' : 'second';
    if (gate) {
      startedInFirst.add(event.key);
      await gate;
    }
    await this.ctx.manager.query(`INSERT INTO "${effects}" (key, attempt, app) VALUES ($1, $2, $3)`, [
      event.key,
      this.ctx.attempt ?? 0,
      app,
    ]);
  }
}

const options = (): Partial<MessagingModuleOptions> => ({
  serviceName: service,
  transport: 'rabbitmq',
  shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
  // a prefetch buffer beyond the subscriber's 1 lane × 4 grouped deliveries
  rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200, prefetch: 20 },
  outbox: { ...tables, pollIntervalMs: 20, groupCommit: 4 },
});

const database = () =>
  TypeOrmModule.forRoot({
    type: 'postgres',
    url: TEST_DATABASE_URL,
    entities: createMessagingEntities({ database: 'postgres', ...tables }),
    synchronize: true,
  });

describe('shutdown of a grouped subscriber (RabbitMQ + PostgreSQL inbox)', () => {
  let first: TestingModule | undefined;
  let second: TestingModule | undefined;

  afterAll(async () => {
    openGate();
    await first?.close().catch(() => undefined);
    await second
      ?.get(DataSource)
      .query(`DROP TABLE IF EXISTS "${effects}", "${tables.outboxTable}", "${tables.inboxTable}"`)
      .catch(() => undefined);
    await second?.close();
    await cleanup(service, [], [exchange]);
  });

  it('deliveries whose handler never started go back uncounted; every message takes effect once', async () => {
    gate = new Promise<void>((resolve) => (openGate = resolve));
    first = await startApp([Slow], options(), [database()]);
    await first.get(DataSource).query(`CREATE TABLE "${effects}" (key varchar(50), attempt int, app varchar(10))`);
    const keys = Array.from({ length: 16 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    await first.get(MessagingTransactions).run(async () => {
      const bus = first!.get(EventBus);
      for (const key of keys) await bus.publish(new ShutdownOrder(key));
    });
    // one handler holds the only lane; three deliveries queue in the commit group, the rest in the prefetch buffer
    await waitFor(async () => startedInFirst.size === 1, 'the first handler', 15_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stats = first.get(SubscriberStats);
    const inFlight = () => stats.snapshot().find((s) => s.subscriber === 'slow')?.inFlight;
    expect(inFlight()).toBe(4); // the running one and three in the commit group

    const closing = first.close();
    // the held handler outlives the shutdown timeout: its channel closes under it
    await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS + 1_500));
    openGate();
    await closing;
    first = undefined;
    gate = undefined;
    expect(startedInFirst.size).toBe(1);
    const inFlightAfterClose = inFlight();

    second = await startApp([Slow], options(), [database()]);
    const ds = second.get(DataSource);
    const rows = async () =>
      (await ds.query(`SELECT key, attempt, app FROM "${effects}" ORDER BY key, app`)) as Array<{
        key: string;
        attempt: number;
        app: string;
      }>;
    await waitFor(async () => new Set((await rows()).map((r) => r.key)).size === keys.length, 'every effect', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a late duplicate would show by now

    const all = await rows();
    // exactly once: one effect per message, one inbox row per message
    expect(all.map((r) => r.key)).toEqual(keys);
    const inbox = await ds.query(`SELECT count(*)::int AS n FROM "${tables.inboxTable}"`);
    expect(inbox[0].n).toBe(keys.length);
    // never started in the first app: handled in the second one at attempt 1 (not counted)
    const neverStarted = all.filter((r) => !startedInFirst.has(r.key));
    expect(neverStarted).toHaveLength(keys.length - 1);
    expect(neverStarted.map((r) => [r.key, r.app, r.attempt])).toEqual(neverStarted.map((r) => [r.key, 'second', 1]));
    // the started one: committed in the first app (absorbed by the inbox), or counted once and handled again
    const started = all.find((r) => startedInFirst.has(r.key))!;
    expect(started.app === 'first' ? started.attempt : started.attempt - 1).toBe(1);
    expect(await second.get(DeadLetterService).list()).toEqual([]);
    // the three given back settled in the first app's stats; the one its channel closed under did not
    expect(inFlightAfterClose).toBe(1);
  });
});
