import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TEST_DATABASE_URL } from '../setup/services';
import {
  CommandBus,
  CommandHandler,
  DeadLetterService,
  EventBus,
  MessageContext,
  MessagingTransactions,
  PermanentMessageError,
  Subscribe,
  createMessagingEntities,
  currentMessageContext,
} from '../../lib';
import { startApp, waitFor } from './app.helper';

class DoThing {
  constructor(readonly n: number) {}
}

@CommandHandler(DoThing)
class DoThingHandler {
  constructor(private readonly events: EventBus) {}
  async execute(cmd: DoThing) {
    await this.events.publish({ type: 'ThingDone', n: cmd.n });
  }
}

class DoThingTx {
  constructor(readonly n: number) {}
}
@CommandHandler(DoThingTx, { transactional: true })
class DoThingTxHandler {
  constructor(private readonly events: EventBus) {}
  async execute(cmd: DoThingTx) {
    await this.events.publish({ type: 'ThingDone', n: cmd.n });
  }
}

const done: number[] = [];
const correlations: Array<string | undefined> = [];

@Injectable()
class Trigger {
  constructor(
    private readonly commands: CommandBus,
    private readonly ctx: MessageContext,
  ) {}

  @Subscribe('Trigger', { name: 'trigger', retry: { maxRetries: 0 } })
  async on(event: { n: number; fail: boolean; tx: boolean }) {
    await this.commands.execute(event.tx ? new DoThingTx(event.n) : new DoThing(event.n));
    if (event.fail) throw new PermanentMessageError(`rolled back ${this.ctx.messageId}`);
  }

  @Subscribe('ThingDone', { name: 'thing-done' })
  onDone(event: { n: number }) {
    done.push(event.n);
  }
}

class StartFlow {}
@CommandHandler(StartFlow)
class StartFlowHandler {
  constructor(
    private readonly transactions: MessagingTransactions,
    private readonly events: EventBus,
  ) {}
  async execute() {
    correlations.push(currentMessageContext()?.correlationId);
    await this.transactions.run(async () => {
      correlations.push(currentMessageContext()?.correlationId);
      await this.events.publish({ type: 'FlowStarted' });
    });
  }
}

const suffix = randomBytes(3).toString('hex');
const databases = {
  SQLite: {
    outboxTable: 'messaging_outbox',
    inboxTable: 'messaging_processed_messages',
    orm: () =>
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database: ':memory:',
        entities: createMessagingEntities({ database: 'sqlite' }),
        synchronize: true,
      }),
  },
  PostgreSQL: {
    outboxTable: `tx_outbox_${suffix}`,
    inboxTable: `tx_inbox_${suffix}`,
    orm: () =>
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: TEST_DATABASE_URL,
        entities: createMessagingEntities({
          database: 'postgres',
          outboxTable: `tx_outbox_${suffix}`,
          inboxTable: `tx_inbox_${suffix}`,
        }),
        synchronize: true,
      }),
  },
};

const cases: Array<[string, (typeof databases)[keyof typeof databases], boolean]> = [
  ['SQLite', databases.SQLite, true],
  ['PostgreSQL', databases.PostgreSQL, true],
  ['PostgreSQL, plain statements', databases.PostgreSQL, false],
];

describe.each(cases)('transactions across commands and subscribers (%s outbox)', (name, db, preparedStatements) => {
  const outbox = { pollIntervalMs: 20, outboxTable: db.outboxTable, inboxTable: db.inboxTable, preparedStatements };
  const outboxRows = async (ds: DataSource, type: string) =>
    Number(
      (
        await ds.query(`SELECT count(*) AS c FROM ${db.outboxTable} WHERE type = ${name === 'SQLite' ? '?' : '$1'}`, [
          type,
        ])
      )[0].c,
    );

  afterAll(async () => {
    if (name !== 'PostgreSQL, plain statements') return; // the last case drops the shared tables
    const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
    await ds.initialize();
    await ds.query(`DROP TABLE IF EXISTS ${db.outboxTable}, ${db.inboxTable}`);
    await ds.destroy();
  });

  it.each([false, true])(
    'a command sent from an inbox subscriber joins its transaction (transactional handler: %p)',
    async (tx) => {
      done.length = 0;
      const app = await startApp([DoThingHandler, DoThingTxHandler, Trigger], { outbox }, [db.orm()]);
      const ds = app.get(DataSource);
      await ds.query(`DELETE FROM ${db.outboxTable}`);
      await app.get(EventBus).publish({ type: 'Trigger', n: 1, fail: true, tx });
      const dls = app.get(DeadLetterService);
      const deadline = Date.now() + 5000;
      while ((await dls.count()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await dls.count()).toBe(1);
      expect(await outboxRows(ds, 'ThingDone')).toBe(0); // rolled back with the subscriber's work

      await app.get(EventBus).publish({ type: 'Trigger', n: 2, fail: false, tx });
      await waitFor(() => done.length === 1, 'ThingDone handled', 5000);
      await new Promise((r) => setTimeout(r, 100));
      expect(done).toEqual([2]);
      expect(await outboxRows(ds, 'ThingDone')).toBe(1);
      await app.close();
    },
    20_000,
  );

  it('keeps the correlation of a new flow inside MessagingTransactions.run', async () => {
    correlations.length = 0;
    const app = await startApp([StartFlowHandler], { outbox }, [db.orm()]);
    await app.get(CommandBus).execute(new StartFlow());
    expect(correlations).toHaveLength(2);
    expect(correlations[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(correlations[1]).toBe(correlations[0]);
    const ds = app.get(DataSource);
    const rows = await ds.query(`SELECT payload FROM ${db.outboxTable} WHERE type = 'FlowStarted'`);
    expect(rows.map((r: { payload: string }) => JSON.parse(r.payload).correlationid)).toContain(correlations[0]);
    await app.close();
  });
});
