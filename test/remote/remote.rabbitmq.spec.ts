import type { TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  Command,
  CommandBus,
  CommandHandler,
  Message,
  MessageContext,
  DeadLetterService,
  QueryInterruptedError,
  QueryTimeoutError,
  MessagingTransactions,
  QueryBus,
  RemoteMessaging,
  createMessagingEntities,
  type MessagingModuleOptions,
} from '../../lib';
import { encodeEnvelope } from '../../lib/message/cloudevents.codec';
import { uuidv7 } from '../../lib/message/uuid-v7';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { cleanup, closeConnections, rawConnection, runId, waitFor } from '../rabbitmq/rabbitmq-test.helpers';
import { uniqueTables } from '../outbox/helpers/outbox-test.db';
import { OrderFlow, ShipOrder, GetStock, seen, shippingHandlers, startService } from './remote-scenario';
import { remoteScenarioCases, type ScenarioEnv } from './remote-scenario.cases';

/** Routed to a service that starts only after the sender (see its test). */
@Message('remote.LateShip')
class LateShip extends Command<void> {
  constructor(readonly parcelId: string) {
    super();
  }
}

const run = runId();
const ORDERS = `${run}-orders`;
const SHIPPING = `${run}-shipping`;
const NOBODY = `${run}-nobody`;
const FOREIGN = `${run}-foreign`;
const exchange = `${run}.events`;
const tablesOf = (prefix: string) => {
  const { outboxTable, inboxTable } = uniqueTables(prefix);
  return { outboxTable, inboxTable };
};
const ordersTables = tablesOf('rco');
const shippingTables = tablesOf('rcs');

function pg(tables: { outboxTable: string; inboxTable: string }) {
  return TypeOrmModule.forRoot({
    type: 'postgres',
    url: TEST_DATABASE_URL,
    entities: createMessagingEntities({ database: 'postgres', ...tables }),
    synchronize: true,
    poolSize: 8,
  });
}

function options(serviceName: string, tables: { outboxTable: string; inboxTable: string }): MessagingModuleOptions {
  return {
    serviceName,
    transport: 'rabbitmq',
    rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
    outbox: { ...tables, pollIntervalMs: 20 },
    retry: { maxRetries: 2, initialDelayMs: 50, jitter: 0 },
    remote: {
      routes: { [SHIPPING]: [ShipOrder, GetStock], [NOBODY]: ['remote.Orphan'], [FOREIGN]: ['remote.Foreign'] },
      maxReplyBytes: 16_384,
    },
  };
}

describe('commands and queries across services: two Nest apps over RabbitMQ, PostgreSQL outbox', () => {
  const apps: TestingModule[] = [];
  let env: ScenarioEnv;

  beforeAll(async () => {
    const shipping = [];
    for (const instance of ['a', 'b']) {
      shipping.push(
        await startService(options(SHIPPING, shippingTables), shippingHandlers(SHIPPING, instance), [
          pg(shippingTables),
        ]),
      );
    }
    const orders = await startService(options(ORDERS, ordersTables), [OrderFlow], [pg(ordersTables)]);
    apps.push(...shipping, orders);
    env = { orders, shipping, shippingName: SHIPPING, nobody: NOBODY, tag: run };
  });

  afterAll(async () => {
    for (const [app, tables] of [
      [apps[0], shippingTables],
      [apps[2], ordersTables],
    ] as const) {
      await app
        ?.get(DataSource)
        .query(`DROP TABLE IF EXISTS "${tables.outboxTable}", "${tables.inboxTable}"`)
        .catch(() => undefined);
    }
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    await cleanup(
      run,
      [],
      [exchange, `${ORDERS}.retry`, `${SHIPPING}.retry`, `${run}-late.retry`, `${run}-early.retry`],
    );
  });

  remoteScenarioCases(() => env);

  it('keeps a command routed to a service not deployed yet past outbox.maxAttempts, and delivers it once that service starts', async () => {
    const LATE = `${run}-late`;
    const senderTables = tablesOf('rcl');
    const late: { id: string; subscriber?: string }[] = [];
    @CommandHandler(LateShip)
    class LateShipHandler {
      constructor(private readonly ctx: MessageContext) {}
      execute(command: LateShip): void {
        late.push({ id: command.parcelId, subscriber: this.ctx.subscriber });
      }
    }
    const routes = { [LATE]: [LateShip] };
    const sender = await startService(
      {
        serviceName: `${run}-early`,
        transport: 'rabbitmq',
        rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
        outbox: {
          ...senderTables,
          pollIntervalMs: 20,
          maxAttempts: 2,
          backoff: { initialDelayMs: 20, maxDelayMs: 100 },
        },
        remote: { routes },
      },
      [],
      [pg(senderTables)],
    );
    apps.push(sender);
    const ds = sender.get(DataSource);
    try {
      await sender.get(CommandBus).execute(new LateShip(`${run}-parcel`));
      // the receiver's queue does not exist: attempts pass maxAttempts, the row stays pending
      await waitFor(async () => {
        const [row] = await ds.query(`SELECT attempts, status FROM "${senderTables.outboxTable}"`);
        return row !== undefined && row.attempts > 2 && row.status === 'pending';
      }, 'attempts past maxAttempts, still pending');
      const receiver = await startService(
        { serviceName: LATE, transport: 'rabbitmq', rabbitmq: { url: TEST_AMQP_URL, exchange }, remote: { routes } },
        [LateShipHandler],
      );
      apps.push(receiver);
      await waitFor(() => late.length === 1, 'the command delivered once the receiver started');
      expect(late[0]).toEqual({ id: `${run}-parcel`, subscriber: 'commands' });
      await waitFor(async () => {
        const [row] = await ds.query(`SELECT status FROM "${senderTables.outboxTable}"`);
        return row?.status === 'sent';
      }, 'the row marked sent');
    } finally {
      await ds.query(`DROP TABLE IF EXISTS "${senderTables.outboxTable}", "${senderTables.inboxTable}"`);
    }
  });

  it('writes a routed command in the caller’s transaction: a rollback sends nothing', async () => {
    const orders = env.orders;
    const commands = orders.get(CommandBus);
    const tx = orders.get(MessagingTransactions);
    await expect(
      tx.run(async () => {
        await commands.execute(new ShipOrder(`${run}-rolled-back`, 1));
        throw new Error('the order failed');
      }),
    ).rejects.toThrow('the order failed');
    await tx.run(async () => {
      await commands.execute(new ShipOrder(`${run}-committed`, 1));
    });
    await waitFor(() => seen.commands.some((c) => c.orderId === `${run}-committed`), 'the committed command');
    const rows = await orders
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM "${ordersTables.outboxTable}" WHERE payload LIKE $1`, [
        `%${run}-rolled-back%`,
      ]);
    expect(rows[0].n).toBe(0);
    expect(seen.commands.some((c) => c.orderId === `${run}-rolled-back`)).toBe(false);
  });

  it('dead-letters a command of a type the service does not accept, sent by a foreign client, with the reason', async () => {
    const conn = await rawConnection();
    const id = uuidv7();
    try {
      const ch = await conn.createConfirmChannel();
      const body = encodeEnvelope({
        id,
        type: 'remote.Unknown',
        version: 1,
        time: new Date().toISOString(),
        source: 'foreign-client',
        correlationId: id,
        headers: {},
        data: { orderId: 'x' },
      });
      ch.publish('', `${SHIPPING}.commands`, Buffer.from(body), { contentType: 'application/cloudevents+json' });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    const letters = env.shipping[0].get(DeadLetterService);
    await waitFor(
      async () => (await letters.list()).some((d) => d.messageId === id),
      'dead letter of the unknown command',
    );
    const letter = (await letters.list()).find((d) => d.messageId === id)!;
    expect(letter.subscriber).toBe('commands');
    expect(letter.error.name).toBe('UnknownMessageTypeError');
    expect(letter.error.message).toContain('remote.Unknown');
  });

  it('answers a foreign responder’s CloudEvents reply, and counts a duplicate and an unknown reply as stray', async () => {
    const conn = await rawConnection();
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue(`${FOREIGN}.queries`, { durable: false, autoDelete: true });
      await ch.consume(`${FOREIGN}.queries`, (msg) => {
        if (!msg) return;
        const request = JSON.parse(msg.content.toString()) as { id: string; correlationid: string };
        const reply = (causationid: string) =>
          Buffer.from(
            JSON.stringify({
              specversion: '1.0',
              id: uuidv7(),
              type: 'messaging.reply',
              source: 'foreign-service',
              correlationid: request.correlationid,
              causationid,
              replystatus: 'ok',
              data: { answer: 42 },
            }),
          );
        const to = msg.properties.replyTo as string;
        ch.publish('', to, reply(request.id), { correlationId: msg.properties.correlationId });
        ch.publish('', to, reply(request.id), { correlationId: msg.properties.correlationId });
        ch.publish('', to, reply('nope'), { correlationId: 'no-such-request' });
        ch.ack(msg);
      });
      const remote = env.orders.get(RemoteMessaging);
      const stray = remote.stats().strayReplies;
      const answer = await env.orders.get(QueryBus).execute<{ answer: number }>({ type: 'remote.Foreign' });
      expect(answer).toEqual({ answer: 42 });
      await waitFor(() => remote.stats().strayReplies === stray + 2, 'two stray replies counted');
    } finally {
      await conn.close();
    }
  });

  it('fails a query in flight with QueryInterruptedError when its connection drops, and queries again after the reconnect', async () => {
    const queries = env.orders.get(QueryBus);
    const pending = queries.execute(new GetStock(`stall-${run}-drop`), { timeoutMs: 20_000 }).catch((e: unknown) => e);
    await waitFor(() => seen.queries.some((q) => q.orderId === `stall-${run}-drop`), 'the query reached shipping');
    expect(await closeConnections(`${ORDERS} requests`, 'remote query test')).toBe(1);
    expect(await pending).toBeInstanceOf(QueryInterruptedError);
    let answer: unknown;
    await waitFor(async () => {
      answer = await queries.execute(new GetStock(`${run}-after`), { timeoutMs: 5_000 }).catch(() => undefined);
      return answer !== undefined;
    }, 'a query after the reconnect');
    expect(answer).toEqual({ sku: `${run}-after`, available: `${run}-after`.length });
  });

  it('answers again after the broker cancels the responder (its queries queue deleted)', async () => {
    const conn = await rawConnection();
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(`${SHIPPING}.queries`);
      await ch.close();
    } finally {
      await conn.close();
    }
    const queries = env.orders.get(QueryBus);
    let answer: unknown;
    await waitFor(async () => {
      answer = await queries.execute(new GetStock(`${run}-recycled`), { timeoutMs: 2_000 }).catch(() => undefined);
      return answer !== undefined;
    }, 'a query answered once the responders consumed again');
    expect(answer).toEqual({ sku: `${run}-recycled`, available: `${run}-recycled`.length });
  });

  it('answers only to a direct reply-to address: a request naming another queue as reply-to is dropped', async () => {
    const conn = await rawConnection();
    const target = `${run}.not-a-reply-queue`;
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue(target, { durable: false, autoDelete: false });
      const request = (sku: string) => {
        const id = uuidv7();
        const envelope = {
          id,
          type: 'remote.GetStock',
          version: 1,
          time: new Date().toISOString(),
          source: 'foreign',
          correlationId: id,
          headers: {},
          data: { sku },
        };
        return { id, body: Buffer.from(encodeEnvelope(envelope)) };
      };
      const answered = new Promise<string>((resolve) => {
        void ch.consume('amq.rabbitmq.reply-to', (msg) => msg && resolve(msg.properties.correlationId as string), {
          noAck: true,
        });
      });
      const bad = request(`${run}-hijack`);
      ch.sendToQueue(`${SHIPPING}.queries`, bad.body, { replyTo: target, correlationId: bad.id });
      const good = request(`${run}-direct`);
      ch.sendToQueue(`${SHIPPING}.queries`, good.body, { replyTo: 'amq.rabbitmq.reply-to', correlationId: good.id });
      expect(await answered).toBe(good.id);
      // the bad one came first and is dropped before its handler would run: nothing in the target queue
      expect(seen.queries.some((q) => q.orderId === `${run}-hijack`)).toBe(false);
      expect((await ch.checkQueue(target)).messageCount).toBe(0);
      await ch.deleteQueue(target);
    } finally {
      await conn.close();
    }
  });

  it('ends a query whose responder loses its connection mid-answer with a typed error, and answers again after', async () => {
    const queries = env.orders.get(QueryBus);
    const sku = `stall-${run}-responder`;
    const pending = queries.execute(new GetStock(sku), { timeoutMs: 8_000 }).catch((e: unknown) => e);
    await waitFor(() => seen.queries.some((q) => q.orderId === sku), 'the query reached shipping');
    expect(await closeConnections(`${SHIPPING} requests`, 'remote query test')).toBe(2);
    const error = await pending;
    // the request comes back to an instance marked redelivered: answered QueryInterruptedError, not
    // run again; or, if no instance took it back in time, the caller's timeout
    expect(error instanceof QueryInterruptedError || error instanceof QueryTimeoutError).toBe(true);
    expect(seen.queries.filter((q) => q.orderId === sku)).toHaveLength(1);
    let answer: unknown;
    await waitFor(async () => {
      answer = await queries.execute(new GetStock(`${run}-again`), { timeoutMs: 5_000 }).catch(() => undefined);
      return answer !== undefined;
    }, 'a query after the responders reconnected');
    expect(answer).toEqual({ sku: `${run}-again`, available: `${run}-again`.length });
  });
});
