import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  DeadLetterService,
  DryRunUnavailableError,
  EventBus,
  InvalidConfigurationError,
  Message,
  MessageContext,
  MessagingOperationsService,
  Subscribe,
} from '../../lib';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';
import { FakeTransport } from '../outbox/helpers/fake.transport';
import { dropAll, sqliteDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';

/* Journeys (and the refused dry run) on the embedded default: the in-memory transport and a SQLite outbox. */
const tables = uniqueTables('opsql');

@Message('OpsSqlBooked')
class Booked {
  constructor(readonly id: string) {}
}
@Message('OpsSqlConfirmed')
class Confirmed {
  constructor(readonly id: string) {}
}

const state = { broken: true };

@Injectable()
class Bookings {
  constructor(
    private readonly context: MessageContext,
    private readonly events: EventBus,
  ) {}

  @Subscribe(Booked, { name: 'bookings', retry: { maxRetries: 0 } })
  async onBooked(event: Booked) {
    await this.context.manager.query(`INSERT INTO "${tables.ordersTable}" (id, note) VALUES (?, 'booked')`, [event.id]);
    if (state.broken) throw new Error(`room ${event.id} unknown`);
    await this.events.publish(new Confirmed(event.id));
  }

  @Subscribe(Confirmed, { name: 'mailer' })
  onConfirmed() {}
}

describe('operations on SQLite (in-memory transport)', () => {
  let app: TestingModule;
  let ds: DataSource;
  let ops: MessagingOperationsService;
  const rows = async (sql: string) => (await ds.query(sql)) as Array<Record<string, unknown>>;

  beforeAll(async () => {
    ds = await sqliteDataSource(tables);
    app = await startApp([Bookings], {
      serviceName: 'opsql',
      outbox: { dataSource: ds, outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, pollIntervalMs: 20 },
    });
    ops = app.get(MessagingOperationsService);
    await app.get(EventBus).publish(new Booked('101'));
    await app.get(EventBus).publish(new Booked('102'));
    await waitFor(async () => (await app.get(DeadLetterService).count()) === 2, 'two dead letters');
  });

  afterAll(async () => {
    await app?.close();
    await dropAll(ds, tables);
  });

  it('refuses a dry run on SQLite (one connection shared by the application) and runs nothing', async () => {
    const [r1] = await app.get(DeadLetterService).list({ type: 'OpsSqlBooked', limit: 1 });
    state.broken = false;
    const refused = ops.dryRun(r1.id);
    await expect(refused).rejects.toBeInstanceOf(DryRunUnavailableError);
    await expect(refused).rejects.toThrow(/SQLite.*single connection.*PostgreSQL/s);
    const [group] = await ops.failureGroups();
    await expect(ops.dryRunGroup(group.id, 2)).rejects.toBeInstanceOf(DryRunUnavailableError);
    expect(await rows(`SELECT * FROM "${tables.ordersTable}"`)).toEqual([]);
    expect(await rows(`SELECT * FROM "${tables.outboxTable}" WHERE type = 'OpsSqlConfirmed'`)).toEqual([]);
    expect(await app.get(DeadLetterService).count()).toBe(2);
  });

  it('follows a journey on SQLite after the retry', async () => {
    const [group] = await ops.failureGroups();
    await ops.retryGroup(group.id, 'erin');
    await waitFor(async () => (await rows(`SELECT * FROM "${tables.ordersTable}"`)).length === 2, 'r1 and r2 booked');
    const [booked] = await rows(`SELECT message_id FROM "${tables.outboxTable}" WHERE type = 'OpsSqlBooked' LIMIT 1`);
    const journey = await ops.journey(String(booked.message_id));
    const root = journey.roots.find((m) => m.id === booked.message_id)!;
    expect(root).toMatchObject({ type: 'OpsSqlBooked', source: 'opsql', outbox: { status: 'sent' } });
    expect(root.handledBy.map((h) => h.subscriber)).toEqual(['opsql.bookings']);
    expect(root.deadLetters).toEqual([]); // replayed: no longer in the queue, and no durable table here
    await waitFor(async () => (await ops.journey(root.id)).roots[0].children[0]?.handledBy.length === 1, 'mailer');
    expect((await ops.journey(root.id)).roots[0].children[0]).toMatchObject({
      type: 'OpsSqlConfirmed',
      causationId: root.id,
    });
  });

  it('refuses the durable dead-letter table on SQLite', () => {
    expect(
      () =>
        new OutboxFeature(
          { ...tables, ordersTable: undefined, deadLetterTable: 'dl' } as never,
          ds,
          new FakeTransport(),
        ),
    ).toThrow(InvalidConfigurationError);
  });
});
