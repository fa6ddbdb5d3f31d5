import type { Message as AmqpMessage } from 'amqplib';
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  createDeadLetterMigration,
  DeadLetterAdmin,
  EventBus,
  Message,
  MessageContext,
  MessagingOperationsService,
  MessagingTransactions,
  Subscribe,
  type MessageTransport,
  MESSAGING_TRANSPORT,
  type MessagingAlert,
} from '../../lib';
import { parseArgs } from '../../lib/cli/args';
import type { CliIo } from '../../lib/cli/cli-io';
import { dlqGroups, trace } from '../../lib/cli/operations.commands';
import { FailureGroupAdmin } from '../../lib/operations/failure-group-admin';
import { OperatorLog } from '../../lib/operations/operator-log';
import { TEST_DATABASE_URL } from '../setup/services';
import { deadLetterFromMessage } from '../../lib/transport/rabbitmq/rabbitmq.message';
import { cleanup, rawConnection, runId, TEST_AMQP_URL } from '../rabbitmq/rabbitmq-test.helpers';
import { compileMonitoredModule, waitUntil } from '../monitoring/monitoring-app.helper';
import { dropAll, pgDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';

/*
 * How much of the dead-letter queue failure groups and journeys were built from (the read stops at
 * a limit, lowered here to 2 instead of 10,000); a purge that reads the queue once to check the
 * token and once to remove.
 */
const run = runId();
const exchange = `${run}.events`;
const service = `${run}-scan`;
const tables = uniqueTables('scan');
const deadLetterTable = `scan_dead_${run}`;

@Message('ScanShipOrder')
class OrderPlaced {
  constructor(readonly orderId: string) {}
}
@Message('ScanInvoice')
class InvoiceRequested {
  constructor(readonly orderId: string) {}
}

@Injectable()
class Failing {
  @Subscribe(OrderPlaced, { name: 'shipping', retry: { maxRetries: 0 } })
  onPlaced(event: OrderPlaced) {
    throw new RangeError(`carrier rate for order "${event.orderId}" missing`);
  }

  @Subscribe(InvoiceRequested, { name: 'billing', retry: { maxRetries: 0 } })
  onInvoice() {
    throw new TypeError('tax table is undefined');
  }
}

/** A CLI io that keeps its lines. */
function capture(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    out: (l) => void lines.push(l),
    err: (l) => void lines.push(`! ${l}`),
    interactive: false,
    confirm: () => Promise.resolve(false),
  };
}

describe('the extent of a dead-letter read, purge reads, (RabbitMQ, PostgreSQL)', () => {
  let moduleRef: TestingModule;
  let ds: DataSource;
  let ops: MessagingOperationsService;
  let admin: DeadLetterAdmin;
  let correlationId = '';
  const alerts: MessagingAlert[] = [];
  const records = async (status: string, subscriber: string) =>
    Number(
      (
        await ds.query(`SELECT count(*)::int AS n FROM "${deadLetterTable}" WHERE status = $1 AND subscriber = $2`, [
          status,
          subscriber,
        ])
      )[0].n,
    );

  beforeAll(async () => {
    ds = await pgDataSource(tables);
    const qr = ds.createQueryRunner();
    await new (createDeadLetterMigration(deadLetterTable))().up(qr).finally(() => qr.release());
    moduleRef = await compileMonitoredModule([Failing], {
      serviceName: service,
      transport: 'rabbitmq',
      rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
      outbox: {
        dataSource: ds,
        outboxTable: tables.outboxTable,
        inboxTable: tables.inboxTable,
        deadLetterTable,
        pollIntervalMs: 20,
      },
      monitoring: { onAlert: (a) => void alerts.push(a) },
    });
    await moduleRef.init();
    ops = moduleRef.get(MessagingOperationsService);
    admin = moduleRef.get(DeadLetterAdmin);
    await moduleRef.get(MessagingTransactions).run(async () => {
      correlationId = moduleRef.get(MessageContext).correlationId!;
      for (const id of ['A-1', 'B-2', 'C-3']) await moduleRef.get(EventBus).publish(new OrderPlaced(id));
    });
    await waitUntil(async () => (await records('dead', 'shipping')) === 3, 'three dead letters recorded', 20_000);
    await waitUntil(async () => (await admin.list()).length === 3, 'three dead letters queued', 20_000);
  });

  afterAll(async () => {
    await moduleRef?.close();
    const qr = ds.createQueryRunner();
    await new (createDeadLetterMigration(deadLetterTable))().down(qr).finally(() => qr.release());
    await dropAll(ds, tables);
    await cleanup(run, [], [exchange, `${service}.retry`]);
  });

  afterEach(() => {
    admin.scanLimit = 10_000;
  });

  it('says when groups and journeys were built from only the oldest dead letters (service, CLI)', async () => {
    admin.scanLimit = 2;
    const scan = await ops.failureGroupScan();
    expect(scan).toMatchObject({ scanned: 2, truncated: true });
    expect(scan.groups.map((g) => g.count)).toEqual([2]);
    expect(await ops.failureGroupScan({ subscriber: 'shipping' })).toMatchObject({ scanned: 2, truncated: true });
    expect(await ops.journey(correlationId)).toMatchObject({ deadLettersScanned: 2, deadLettersTruncated: true });

    const groupsAdmin = new FailureGroupAdmin(
      admin,
      new OperatorLog({ log: () => undefined, error: () => undefined, warn: () => undefined }),
    );
    const io = capture();
    await dlqGroups(groupsAdmin, parseArgs(['dlq', 'groups']), io, service);
    expect(io.lines).toContainEqual(
      expect.stringMatching(/^PARTIAL: the dead-letter queue holds more than the 2 oldest dead letters read/),
    );
    const json = capture();
    await dlqGroups(groupsAdmin, parseArgs(['dlq', 'groups', '--json']), json, service);
    expect(JSON.parse(json.lines.join('\n'))).toMatchObject({ total: 2, scanned: 2, truncated: true });

    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      MESSAGING_OUTBOX_TABLE: tables.outboxTable,
      MESSAGING_INBOX_TABLE: tables.inboxTable,
    };
    const traced = capture();
    const transport = () => Promise.resolve({ admin, close: () => Promise.resolve() });
    await trace(parseArgs(['trace', correlationId]), env, traced, transport);
    expect(traced.lines).toContainEqual(expect.stringMatching(/^PARTIAL: .* 2 oldest dead letters read; newer/));

    // exactly as many as the limit, or fewer: the whole queue was read
    admin.scanLimit = 3;
    expect(await ops.failureGroupScan()).toMatchObject({ scanned: 3, truncated: false });
    admin.scanLimit = 10_000;
    expect(await ops.journey(correlationId)).toMatchObject({ deadLettersScanned: 3, deadLettersTruncated: false });
    const whole = capture();
    await dlqGroups(groupsAdmin, parseArgs(['dlq', 'groups']), whole, service);
    expect(whole.lines.some((l) => l.startsWith('PARTIAL'))).toBe(false);
    const tracedWhole = capture();
    await trace(parseArgs(['trace', correlationId]), env, tracedWhole, transport);
    expect(tracedWhole.lines.some((l) => l.startsWith('PARTIAL'))).toBe(false);
  });

  it('a purge checks the token, then removes and records exactly the dead letters of the group still there', async () => {
    await moduleRef.get(EventBus).publish(new InvoiceRequested('X-9'));
    await waitUntil(async () => (await admin.list()).length === 4, 'the billing dead letter queued', 20_000);
    await waitUntil(async () => (await records('dead', 'billing')) === 1, 'the billing dead letter recorded');
    const [billing] = await ops.failureGroups({ subscriber: 'billing' });
    const token = (await ops.purgeToken(billing.id))!;
    const store = moduleRef.get<MessageTransport>(MESSAGING_TRANSPORT).deadLetters;
    const list = jest.spyOn(store, 'list');
    const purge = jest.spyOn(store, 'purge');
    try {
      expect(await ops.purgeGroup(billing.id, token, 'carol')).toBe(1);
      expect(list).toHaveBeenCalledTimes(2); // the group, to check the token; which of its dead letters are there
      expect(purge).toHaveBeenCalledTimes(1); // one batch: no progress to show
      expect(purge).toHaveBeenCalledWith({ ids: billing.ids });
    } finally {
      list.mockRestore();
      purge.mockRestore();
    }
    expect((await admin.list()).map((d) => d.subscriber)).toEqual(['shipping', 'shipping', 'shipping']);
    expect(await records('purged', 'billing')).toBe(1);
  });

  it('records as purged or replayed only the dead letters that were still in the queue, not every id asked for', async () => {
    const [first, second] = await admin.list();
    // as the management UI would: one dead letter taken out of the queue behind the library's back
    const conn = await rawConnection();
    try {
      const ch = await conn.createChannel();
      const dlq = `${service}.dead-letter`;
      const held: AmqpMessage[] = [];
      for (;;) {
        const msg = await ch.get(dlq, { noAck: false });
        if (msg === false) break;
        if (deadLetterFromMessage(msg, () => 'x').id === first.id) ch.ack(msg);
        else held.push(msg);
      }
      for (const msg of held) ch.nack(msg, false, true);
      await ch.close();
    } finally {
      await conn.close();
    }
    await waitUntil(async () => (await admin.list()).length === 2, 'one dead letter removed outside the library');
    expect(await records('dead', 'shipping')).toBe(3);
    expect(await admin.purge({ ids: [first.id, second.id] }, undefined, 'erin')).toBe(1);
    const history = await ops.deadLetterHistory({ subscriber: 'shipping' });
    expect(history.find((r) => r.id === first.id)).toMatchObject({ status: 'dead' }); // we did not purge it
    expect(history.find((r) => r.id === second.id)).toMatchObject({ status: 'purged', statusBy: 'erin' });
  });
});
