import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  createDeadLetterMigration,
  DeadLetterNotFoundError,
  DeadLetterService,
  InvalidDeadLetterQueryError,
  EventBus,
  Message,
  MessageContext,
  MessagingOperationsService,
  MessagingTransactions,
  Subscribe,
  type JourneyMessage,
  type MessageTransport,
  MESSAGING_TRANSPORT,
  type MessagingAlert,
} from '../../lib';
import { cleanup, makeMessage, runId, TEST_AMQP_URL } from '../rabbitmq/rabbitmq-test.helpers';
import { encodeEnvelope } from '../../lib/message/cloudevents.codec';
import { compileMonitoredModule, waitUntil } from '../monitoring/monitoring-app.helper';
import { dropAll, pgDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';

/*
 * The operations back end against RabbitMQ and the PostgreSQL outbox: a bad deploy dead-letters
 * orders; the failures form one group; alerts say "new" once then "growing"; the durable record
 * keeps them; a dry run shows the failure, then, after the fix, success with the publish captured
 * and nothing written; a group retry drains it; the journey shows who published and handled what;
 * a purged group stays in the history.
 */
const run = runId();
const exchange = `${run}.events`;
const service = `${run}-ops`;
const tables = uniqueTables('ops');
const deadLetterTable = `ops_dead_${run}`;

@Message('OpsShipOrder')
class OrderPlaced {
  constructor(readonly orderId: string) {}
}
@Message('OpsOrderShipped')
class OrderShipped {
  constructor(readonly orderId: string) {}
}
@Message('OpsInvoice')
class InvoiceRequested {
  constructor(readonly orderId: string) {}
}

const state = { broken: true, audited: 0 };

@Injectable()
class Shipping {
  constructor(
    private readonly context: MessageContext,
    private readonly events: EventBus,
  ) {}

  @Subscribe(OrderPlaced, { name: 'shipping', retry: { maxRetries: 0 } })
  async onPlaced(event: OrderPlaced) {
    await this.context.manager.query(`INSERT INTO "${tables.ordersTable}" (id, note) VALUES ($1, 'shipped')`, [
      event.orderId,
    ]);
    if (state.broken) throw new RangeError(`carrier rate for order "${event.orderId}" missing (zone 7)`);
    await this.events.publish(new OrderShipped(event.orderId));
  }

  @Subscribe(OrderShipped, { name: 'audit' })
  onShipped() {
    state.audited++;
  }

  @Subscribe(InvoiceRequested, { name: 'billing', retry: { maxRetries: 0 } })
  onInvoice() {
    throw new TypeError('tax table is undefined');
  }
}

describe('operations back end (RabbitMQ, PostgreSQL outbox, durable dead letters)', () => {
  let moduleRef: TestingModule;
  let ds: DataSource;
  let ops: MessagingOperationsService;
  const alerts: MessagingAlert[] = [];
  const orders = ['A-1', 'B-22', 'C-333'];
  let correlationId = '';
  const count = async (sql: string, params: unknown[] = []) => Number((await ds.query(sql, params))[0].n);
  const shipped = () => count(`SELECT count(*)::int AS n FROM "${tables.ordersTable}"`);
  const records = (status: string) =>
    count(`SELECT count(*)::int AS n FROM "${deadLetterTable}" WHERE status = $1`, [status]);

  beforeAll(async () => {
    ds = await pgDataSource(tables);
    const Migration = createDeadLetterMigration(deadLetterTable);
    const qr = ds.createQueryRunner();
    await new Migration().up(qr).finally(() => qr.release());
    moduleRef = await compileMonitoredModule([Shipping], {
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
    await moduleRef.get(MessagingTransactions).run(async () => {
      correlationId = moduleRef.get(MessageContext).correlationId!;
      for (const id of orders) await moduleRef.get(EventBus).publish(new OrderPlaced(id));
    });
    await waitUntil(async () => (await records('dead')) === 3, 'three dead letters recorded', 20_000);
  });

  afterAll(async () => {
    await moduleRef?.close();
    const qr = ds.createQueryRunner();
    await new (createDeadLetterMigration(deadLetterTable))().down(qr).finally(() => qr.release());
    await dropAll(ds, tables);
    await cleanup(run, [], [exchange, `${service}.retry`]);
  });

  it('groups the three failures as one problem and alerts "new" once, then "growing"', async () => {
    const groups = await ops.failureGroups();
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({
      subscriber: 'shipping',
      errorName: 'RangeError',
      normalizedMessage: 'carrier rate for order <str> missing (zone <n>)',
      count: 3,
      types: { OpsShipOrder: 3 },
    });
    expect(groups[0].topFrame).toBe('Shipping.onPlaced (operations.pg-rabbitmq.spec)'); // no line: stable across deploys
    await waitUntil(() => alerts.length === 3, 'three alerts');
    const states = alerts.map((a) => (a.kind === 'dead-letter' ? [a.group?.id, a.group?.state, a.group?.count] : []));
    expect(states).toEqual([
      [groups[0].id, 'new', 1],
      [groups[0].id, 'growing', 2],
      [groups[0].id, 'growing', 3],
    ]);
  });

  it('dry-runs a dead letter: would fail while broken, nothing written', async () => {
    const [group] = await ops.failureGroups();
    const result = await ops.dryRun(group.ids[0]);
    expect(result).toMatchObject({
      deadLetterId: group.ids[0],
      subscriber: 'shipping',
      outcome: 'would-fail',
      captured: [],
    });
    expect(result.error).toMatchObject({ name: 'RangeError', message: expect.stringContaining('carrier rate') });
    expect(await shipped()).toBe(0);
    await expect(ops.dryRun('no-such-dead-letter')).rejects.toBeInstanceOf(DeadLetterNotFoundError);
  });

  it('after the fix, a dry run of the group would succeed, with the publish captured and everything rolled back', async () => {
    state.broken = false;
    const [group] = await ops.failureGroups();
    const results = await ops.dryRunGroup(group.id, 10);
    expect(results.map((r) => r.outcome)).toEqual(['would-succeed', 'would-succeed', 'would-succeed']);
    expect(results.map((r) => r.deadLetterId)).toEqual([...group.ids].reverse());
    for (const r of results) expect(r.captured).toEqual([{ type: 'OpsOrderShipped', id: expect.any(String) }]);
    expect(await shipped()).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM "${tables.outboxTable}" WHERE type = 'OpsOrderShipped'`)).toBe(
      0,
    );
    expect(await records('dead')).toBe(3);
    expect((await ops.failureGroups())[0].count).toBe(3);
  });

  it('retries the group to the failed subscriber: it drains, the orders ship, the records say replayed by whom', async () => {
    const [group] = await ops.failureGroups();
    expect(await ops.retryGroup(group.id, 'ops@example.com')).toBe(3);
    await waitUntil(
      async () => (await shipped()) === 3 && state.audited === 3,
      'the orders shipped and audited',
      20_000,
    );
    expect(await ops.failureGroups()).toEqual([]);
    expect(await records('replayed')).toBe(3);
    const by = await ds.query(`SELECT DISTINCT status_by FROM "${deadLetterTable}"`);
    expect(by).toEqual([{ status_by: 'ops@example.com' }]);
  });

  it('follows the journey: the orders, who handled them, their dead letters, and what they caused', async () => {
    const byId = await ops.journey(correlationId);
    expect(byId.correlationId).toBe(correlationId);
    const placed = byId.roots.filter((m) => m.type === 'OpsShipOrder');
    expect(placed).toHaveLength(3);
    expect(byId.total).toBe(6);
    for (const m of placed) {
      expect(m.outbox).toMatchObject({ status: 'sent', attempts: 0 });
      expect(m.source).toBe(service);
      expect(m.handledBy).toEqual([{ subscriber: `${service}.shipping`, processedAt: expect.any(String) }]);
      expect(m.deadLetters).toEqual([
        expect.objectContaining({
          subscriber: 'shipping',
          attempts: 1,
          error: expect.objectContaining({ name: 'RangeError' }),
          // retried by the test before: the durable record says so
          status: 'replayed',
          statusBy: 'ops@example.com',
        }),
      ]);
      expect(
        m.children.map((c: JourneyMessage) => [c.type, c.causationId, c.handledBy.map((h) => h.subscriber)]),
      ).toEqual([['OpsOrderShipped', m.id, [`${service}.audit`]]]);
    }
    // by a message id: the same journey
    const child = placed[0].children[0];
    const byMessage = await ops.journey(child.id);
    expect(byMessage.correlationId).toBe(correlationId);
    expect(byMessage.total).toBe(6);
    expect(await ops.journey('nothing-known')).toEqual({
      query: 'nothing-known',
      roots: [],
      total: 0,
      deadLettersScanned: 0, // the group was retried: the queue is empty
      deadLettersTruncated: false,
    });
  });

  it('purges a group with its token; the history keeps it as purged', async () => {
    await moduleRef.get(EventBus).publish(new InvoiceRequested('X-9'));
    await waitUntil(async () => (await ops.failureGroups()).length === 1, 'the billing group');
    const [billing] = await ops.failureGroups();
    expect(billing).toMatchObject({ subscriber: 'billing', errorName: 'TypeError', count: 1 });
    const token = (await ops.purgeToken(billing.id))!;
    expect(await ops.purgeGroup(billing.id, token, 'carol')).toBe(1);
    expect(await ops.failureGroups()).toEqual([]);
    const history = await moduleRef.get(MessagingOperationsService).deadLetterHistory({ groupId: billing.id });
    expect(history).toEqual([
      expect.objectContaining({ subscriber: 'billing', status: 'purged', statusBy: 'carol', groupId: billing.id }),
    ]);
    const ops2 = moduleRef.get(MessagingOperationsService);
    expect(await ops2.deadLetterHistory({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect((await ops2.deadLetterHistory({ status: 'replayed', subscriber: 'shipping' })).length).toBe(3);
    await expect(ops2.deadLetterHistory({ since: 'yesterday-ish' })).rejects.toBeInstanceOf(
      InvalidDeadLetterQueryError,
    );
  });

  it('a group whose dead letters were all replayed is new again when it recurs; DeadLetterService.replay marks the record too', async () => {
    const shippingGroup = alerts.find((a) => a.kind === 'dead-letter' && a.subscriber === 'shipping');
    state.broken = true;
    const before = alerts.length;
    await moduleRef.get(EventBus).publish(new OrderPlaced('D-4444'));
    await waitUntil(() => alerts.length === before + 1, 'the alert of the recurrence');
    const recurred = alerts[before];
    expect(recurred.kind === 'dead-letter' && recurred.group).toMatchObject({
      id: shippingGroup?.kind === 'dead-letter' ? shippingGroup.group?.id : 'none',
      state: 'new',
      count: 1,
    });
    state.broken = false;
    expect(await moduleRef.get(DeadLetterService).replay({ subscriber: 'shipping' })).toBe(1);
    await waitUntil(async () => (await shipped()) === 4, 'D-4444 shipped', 20_000);
    expect(await records('dead')).toBe(0);
    expect(await records('replayed')).toBe(4);
  });

  it("shows a message another service published (not in this outbox) as a '?' node with who handled it and what it caused", async () => {
    const upstream = makeMessage('OpsShipOrder', { orderId: 'E-55555' });
    upstream.envelope.source = 'upstream-service';
    upstream.body = encodeEnvelope(upstream.envelope);
    await moduleRef.get<MessageTransport>(MESSAGING_TRANSPORT).publish(upstream);
    await waitUntil(async () => (await shipped()) === 5 && state.audited === 5, 'E-55555 shipped and audited', 20_000);
    const journey = await ops.journey(upstream.envelope.correlationId);
    expect(journey.total).toBe(2);
    expect(journey.roots).toEqual([
      expect.objectContaining({
        id: upstream.envelope.id,
        type: '?',
        handledBy: [{ subscriber: `${service}.shipping`, processedAt: expect.any(String) }],
        children: [
          expect.objectContaining({ type: 'OpsOrderShipped', causationId: upstream.envelope.id, source: service }),
        ],
      }),
    ]);
  });
});
