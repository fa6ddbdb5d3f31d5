import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import {
  EventBus,
  MessageContext,
  MessagingModule,
  MessagingTransactions,
  Subscribe,
  createMessagingEntities,
} from '../../lib';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { cleanup, closeConnections } from './rabbitmq-test.helpers';

/**
 * The scenario, end to end: 5,000 events written through the outbox (PostgreSQL), relayed to
 * RabbitMQ and handled by a subscriber with the inbox, while every broker connection is force-closed
 * twice mid-stream. All arrive, each has its effect exactly once, nothing crashes.
 * In CI (CI=true, nothing else on the broker) it uses `rabbitmqctl close_all_connections`; elsewhere it
 * closes only this test's connections, so other users of a shared broker are not cut.
 */
const run = randomBytes(4).toString('hex');
const TOTAL = 5_000;
const service = `kill-${run}`;
const exchange = `kill-${run}.events`;
const effects = `kill_effects_${run}`;
const outboxTable = `kill_outbox_${run}`;
const inboxTable = `kill_inbox_${run}`;

async function killConnections(): Promise<void> {
  const closed = await closeConnections(run, 'outbox kill test', process.env.CI === 'true');
  expect(closed).not.toBe(0);
}

@Injectable()
class Sink {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe('KillTest', { name: 'sink', concurrency: 20 })
  async onEvent(event: { n: number }): Promise<void> {
    await this.ctx.manager.query(`INSERT INTO ${effects} (message_id, n) VALUES ($1, $2)`, [
      this.ctx.messageId,
      event.n,
    ]);
  }
}

describe('outbox → RabbitMQ → inbox under connection loss', () => {
  let app: TestingModule;
  let db: Client;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    db = new Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    await db.query(`CREATE TABLE ${effects} (message_id varchar(64) NOT NULL, n integer NOT NULL)`);
    app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: TEST_DATABASE_URL,
          entities: createMessagingEntities({ database: 'postgres', outboxTable, inboxTable }),
          synchronize: true,
          extra: { max: 30 },
        }),
        MessagingModule.forRoot({
          serviceName: service,
          transport: 'rabbitmq',
          rabbitmq: { url: TEST_AMQP_URL, exchange, connectionName: `kill-${run}`, reconnectDelayMs: 200 },
          outbox: { outboxTable, inboxTable, pollIntervalMs: 100, batchSize: 200 },
          retry: { initialDelayMs: 100, maxRetries: 5 },
        }),
      ],
      providers: [Sink],
    })
      .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} })
      .compile();
    await app.init();
  }, 60_000);

  afterAll(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    await app?.close();
    await cleanup(
      run,
      [`${service}.sink`, `${service}.dead-letter`, `${service}.dead-letter.lock`],
      [exchange, `${service}.retry`],
    );
    for (const t of [effects, outboxTable, inboxTable]) await db.query(`DROP TABLE IF EXISTS ${t}`);
    await db.end();
  }, 60_000);

  it(`delivers ${TOTAL} events with one effect each while connections are killed twice`, async () => {
    const events = app.get(EventBus);
    const transactions = app.get(MessagingTransactions);
    const handled = async () => Number((await db.query(`SELECT count(*) AS c FROM ${effects}`)).rows[0].c);
    const writing = (async () => {
      for (let batch = 0; batch < TOTAL / 50; batch++) {
        await transactions.run(async () => {
          await events.publishAll(Array.from({ length: 50 }, (_, i) => ({ type: 'KillTest', n: batch * 50 + i })));
        });
      }
    })();
    const waitHandled = async (n: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while ((await handled()) < n) {
        if (Date.now() > deadline) throw new Error(`only ${await handled()} of ${n} handled after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitHandled(1_000, 60_000);
    await killConnections();
    await waitHandled(3_000, 90_000);
    await killConnections();
    await writing;
    await waitHandled(TOTAL, 120_000);
    // a barrier instead of a sleep: a sentinel published behind everything; once it is handled, a
    // late duplicate (queued or redelivered before it) has been handled too
    await transactions.run(() => events.publish({ type: 'KillTest', n: -1 }));
    await waitHandled(TOTAL + 1, 60_000);
    const { rows } = await db.query(
      `SELECT count(*) AS total, count(DISTINCT message_id) AS ids, count(DISTINCT n) AS ns FROM ${effects} WHERE n >= 0`,
    );
    expect({ total: Number(rows[0].total), ids: Number(rows[0].ids), ns: Number(rows[0].ns) }).toEqual({
      total: TOTAL,
      ids: TOTAL,
      ns: TOTAL,
    });
    const outbox = await db.query(
      `SELECT count(*) FILTER (WHERE destination IS NULL AND status = 'sent') AS sent, count(*) FILTER (WHERE status <> 'sent') AS open FROM ${outboxTable}`,
    );
    expect({ sent: Number(outbox.rows[0].sent), open: Number(outbox.rows[0].open) }).toEqual({
      sent: TOTAL + 1,
      open: 0,
    }); // + the sentinel
    expect(unhandled).toEqual([]);
  }, 300_000);
});
