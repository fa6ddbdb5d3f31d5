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
  PermanentMessageError,
  Subscribe,
  createMessagingEntities,
} from '../../lib';
import { TEST_DATABASE_URL } from '../setup/services';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';
import { TEST_AMQP_URL, cleanup, runId } from './rabbitmq-test.helpers';

/*
 * Inbox group commit in an app, through RabbitMQ and the PostgreSQL outbox: a burst to a subscriber
 * with one transaction slot forms groups; a poison message in the burst dead-letters alone while
 * every other message takes effect exactly once; a subscriber that opts out never shares.
 */
const run = runId();
const exchange = `${run}.events`;
const service = `${run}-gc`;
const tables = { outboxTable: `gc_outbox_${run}`, inboxTable: `gc_inbox_${run}` };
const effects = `gc_effects_${run}`;

@Message('GroupedOrder')
class GroupedOrder {
  constructor(readonly key: string) {}
}

const txOf: Record<string, Map<string, string>> = { grouped: new Map(), alone: new Map() };
const runs: Record<string, number> = {};

@Injectable()
class Subscribers {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe(GroupedOrder, { name: 'grouped', concurrency: 1, retry: { maxRetries: 1, initialDelayMs: 20 } })
  async grouped(event: GroupedOrder): Promise<void> {
    runs[event.key] = (runs[event.key] ?? 0) + 1;
    const [{ t }] = await this.ctx.manager.query('SELECT txid_current()::text AS t');
    txOf.grouped.set(event.key, t);
    await this.ctx.manager.query(`INSERT INTO "${effects}" (id) VALUES ($1)`, [`grouped:${event.key}`]);
    if (event.key === 'poison') throw new PermanentMessageError('poison order');
  }

  @Subscribe(GroupedOrder, { name: 'alone', concurrency: 1, groupCommit: false })
  async alone(event: GroupedOrder): Promise<void> {
    const [{ t }] = await this.ctx.manager.query('SELECT txid_current()::text AS t');
    txOf.alone.set(event.key, t);
    await this.ctx.manager.query(`INSERT INTO "${effects}" (id) VALUES ($1)`, [`alone:${event.key}`]);
  }
}

describe('inbox group commit in an app (RabbitMQ + PostgreSQL outbox)', () => {
  let app: TestingModule;

  beforeAll(async () => {
    app = await startApp(
      [Subscribers],
      {
        serviceName: service,
        transport: 'rabbitmq',
        rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
        outbox: { ...tables, pollIntervalMs: 20 },
      },
      [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: TEST_DATABASE_URL,
          entities: createMessagingEntities({ database: 'postgres', ...tables }),
          synchronize: true,
        }),
      ],
    );
    await app.get(DataSource).query(`CREATE TABLE "${effects}" (id varchar(200) PRIMARY KEY)`);
  });

  afterAll(async () => {
    await app
      ?.get(DataSource)
      .query(`DROP TABLE IF EXISTS "${effects}", "${tables.outboxTable}", "${tables.inboxTable}"`)
      .catch(() => undefined);
    await app?.close();
    await cleanup(service, [], [exchange]);
  });

  it('a burst shares transactions; the poison message dead-letters alone; every other one takes effect once', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => (i === 30 ? 'poison' : `k${String(i).padStart(2, '0')}`));
    // one transaction, so the relay publishes the burst at once
    await app.get(MessagingTransactions).run(async () => {
      const bus = app.get(EventBus);
      for (const key of keys) await bus.publish(new GroupedOrder(key));
    });
    const ds = app.get(DataSource);
    const count = async (prefix: string) =>
      Number((await ds.query(`SELECT count(*)::int AS n FROM "${effects}" WHERE id LIKE $1`, [`${prefix}:%`]))[0].n);
    await waitFor(async () => (await count('grouped')) === 59 && (await count('alone')) === 60, 'all effects', 30_000);
    const letters = await app.get(DeadLetterService).list();
    await waitFor(
      async () => (await app.get(DeadLetterService).list()).some((d) => d.subscriber === 'grouped'),
      'the poison dead letter',
      15_000,
    );
    const poison = (await app.get(DeadLetterService).list()).filter((d) => d.subscriber === 'grouped');
    expect(poison).toHaveLength(1);
    expect((poison[0].envelope?.data as { key: string }).key).toBe('poison');
    expect(poison[0].error.message).toBe('poison order');
    expect(letters.filter((d) => d.subscriber === 'alone')).toHaveLength(0);
    // nothing twice: the inbox holds one row per message and subscriber, no effect was lost or doubled
    const inbox = await ds.query(
      `SELECT subscriber, count(*)::int AS n FROM "${tables.inboxTable}" GROUP BY subscriber ORDER BY subscriber`,
    );
    expect(inbox).toEqual([
      { subscriber: `${service}.alone`, n: 60 },
      { subscriber: `${service}.grouped`, n: 59 },
    ]);
    // the grouped subscriber shared transactions (one slot, 60 deliveries at once); the other never did
    const grouped = new Set(keys.filter((k) => k !== 'poison').map((k) => txOf.grouped.get(k)));
    expect(grouped.size).toBeLessThan(30);
    expect(new Set(txOf.alone.values()).size).toBe(60);
    // the poison's group was rolled back and its members ran again alone: at most twice each
    expect(Math.max(...keys.map((k) => runs[k] ?? 0))).toBeLessThanOrEqual(2);
  });
});
