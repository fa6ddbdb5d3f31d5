import 'reflect-metadata';
import { Injectable, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { IsPositive, IsString } from 'class-validator';
import {
  DeadLetterService,
  EventBus,
  Message,
  MessageContext,
  MessagingModule,
  PermanentMessageError,
  Subscribe,
  MESSAGING_TRANSPORT,
  type DeadLetter,
  type MessageTransport,
  type MessagingModuleOptions,
} from '../../lib';
import { RABBITMQ_HEADERS as H } from '../../lib/transport/rabbitmq/rabbitmq.naming';
import { TEST_AMQP_URL, cleanup, rawConnection, runId, waitFor } from './rabbitmq-test.helpers';

const run = runId();
const ORDERS = `${run}-orders`;
const BILLING = `${run}-billing`;
const MAX_BYTES = 16_384;

@Message('OrderPlaced')
class OrderPlaced {
  @IsString() orderId!: string;
  @IsPositive() total!: number;
}

const log: Record<string, Array<{ attempt: number; orderId?: string }>> = {};
function record(key: string, attempt: number | undefined, orderId?: string) {
  (log[key] ??= []).push({ attempt: attempt ?? -1, orderId });
}

@Injectable()
class OrderSubscribers {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe(OrderPlaced, { name: 'strict' })
  strict(event: OrderPlaced) {
    record('strict', this.ctx.attempt, event.orderId);
  }

  @Subscribe(OrderPlaced, { name: 'flaky', retry: { maxRetries: 3, initialDelayMs: 50, multiplier: 2, jitter: 0 } })
  flaky(event: OrderPlaced) {
    record('flaky', this.ctx.attempt, event.orderId);
    if (event.orderId.startsWith('flaky') && this.ctx.attempt! < 3) throw new Error('temporarily down');
    if (event.orderId.startsWith('doomed')) throw new TypeError('always broken');
  }

  @Subscribe(OrderPlaced, { name: 'refusing' })
  refusing(event: OrderPlaced) {
    record('refusing', this.ctx.attempt, event.orderId);
    if (event.orderId.startsWith('refused') && !healed) throw new PermanentMessageError('order cannot exist');
  }
}
let healed = false;

@Injectable()
class BillingSubscribers {
  handled = 0;
  @Subscribe(OrderPlaced, { name: 'invoice', concurrency: 2 })
  async invoice() {
    this.handled++;
    await new Promise((r) => setTimeout(r, 2));
  }
}

const apps: TestingModule[] = [];
const alerts: Record<string, DeadLetter[]> = { [ORDERS]: [], [BILLING]: [] };

async function start(serviceName: string, provider: Type, extra: Partial<MessagingModuleOptions> = {}) {
  const app = await Test.createTestingModule({
    imports: [
      MessagingModule.forRoot({
        serviceName,
        transport: 'rabbitmq',
        rabbitmq: { url: TEST_AMQP_URL, exchange: `${run}.events`, reconnectDelayMs: 200 },
        maxMessageBytes: MAX_BYTES,
        onDeadLetter: (dl) => void alerts[serviceName].push(dl),
        ...extra,
      }),
    ],
    providers: [provider],
  })
    .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} })
    .compile();
  await app.init();
  apps.push(app);
  return app;
}

const order = (orderId: string, total = 10) => Object.assign(new OrderPlaced(), { orderId, total });

describe('MessagingModule with transport: rabbitmq (two services, real broker)', () => {
  let orders: TestingModule;
  let billing1: TestingModule;
  let billing2: TestingModule;

  beforeAll(async () => {
    orders = await start(ORDERS, OrderSubscribers);
    billing1 = await start(BILLING, BillingSubscribers);
    billing2 = await start(BILLING, BillingSubscribers);
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await cleanup(run, [], [`${run}.events`, `${ORDERS}.retry`, `${BILLING}.retry`]);
  });

  it('gives each service its own copy and shares a service’s copy between its two instances', async () => {
    const bus = orders.get(EventBus);
    for (let i = 0; i < 40; i++) await bus.publish(order(`shared-${i}`));
    const b1 = billing1.get(BillingSubscribers);
    const b2 = billing2.get(BillingSubscribers);
    await waitFor(() => (log.strict?.length ?? 0) === 40 && b1.handled + b2.handled === 40, 'both services');
    expect(b1.handled).toBeGreaterThan(0);
    expect(b2.handled).toBeGreaterThan(0);
    const stats = await billing1.get<MessageTransport>(MESSAGING_TRANSPORT).stats();
    expect(stats.find((s) => s.subscriber === 'invoice')).toMatchObject({ queue: `${BILLING}.invoice`, consumers: 2 });
  });

  it('retries then succeeds; exhausts to the DLQ; dead-letters a permanent failure at once; replays only to the failed subscriber', async () => {
    const bus = orders.get(EventBus);
    const strictBefore = log.strict?.length ?? 0;
    await bus.publish(order('flaky-1'));
    await bus.publish(order('doomed-1'));
    await bus.publish(order('refused-1'));
    await waitFor(() => alerts[ORDERS].length === 2, 'two dead letters', 15_000);
    const attempts = (id: string, key: string) =>
      (log[key] ?? []).filter((e) => e.orderId === id).map((e) => e.attempt);
    expect(attempts('flaky-1', 'flaky')).toEqual([1, 2, 3]);
    expect(attempts('doomed-1', 'flaky')).toEqual([1, 2, 3, 4]);
    expect(attempts('refused-1', 'refusing')).toEqual([1]);
    const dls = orders.get(DeadLetterService);
    const listed = await dls.list();
    expect(listed.map((d) => [d.subscriber, d.error.name, d.attempts])).toEqual(
      expect.arrayContaining([
        ['flaky', 'TypeError', 4],
        ['refusing', 'PermanentMessageError', 1],
      ]),
    );
    healed = true;
    expect(await dls.replay({ subscriber: 'refusing' })).toBe(1);
    await waitFor(() => attempts('refused-1', 'refusing').length === 2, 'replayed');
    expect(attempts('refused-1', 'refusing')).toEqual([1, 1]);
    await new Promise((r) => setTimeout(r, 200));
    expect(log.strict!.length - strictBefore).toBe(3); // the others did not get the replay
    expect(await dls.purge()).toBe(1);
  });

  it('dead-letters each bad input published raw to a subscriber queue, with its reason, and keeps consuming', async () => {
    alerts[ORDERS].length = 0;
    const queue = `${ORDERS}.strict`;
    const event = (attrs: Record<string, unknown>) =>
      JSON.stringify({ specversion: '1.0', id: `bad-${Math.random()}`, type: 'OrderPlaced', source: 'raw', ...attrs });
    const crlf = `${'c'.repeat(5_000)}\r\n${'d'.repeat(5_000)}`;
    const inputs: Array<[string, string, RegExp, Record<string, unknown>?]> = [
      ['non-JSON', 'this is not json', /not JSON/],
      ['empty body', '', /empty body/],
      ['JSON array', '[1,2,3]', /not a JSON object/],
      ['missing type', JSON.stringify({ specversion: '1.0', id: 'no-type', source: 'raw', data: {} }), /"type"/],
      ['unknown type', event({ type: 'SomethingElse', data: {} }), /no handler for message type "SomethingElse"/],
      ['invalid payload', event({ data: { orderId: 7, total: -1 } }), /Invalid OrderPlaced.*orderId.*total/],
      [
        'oversize body',
        event({ data: { orderId: 'x'.repeat(MAX_BYTES), total: 1 } }),
        new RegExp(`exceeds the limit of ${MAX_BYTES} bytes`),
      ],
      [
        '__proto__ key',
        event({ data: JSON.parse('{"__proto__":{"polluted":true},"orderId":"p","total":1}') }),
        /__proto__/,
      ],
      [
        '10 kB correlation id with CR/LF',
        event({ correlationid: crlf, data: { orderId: 'c', total: 1 } }),
        /correlationid/,
        { 'x-correlation-id': crlf },
      ],
    ];
    const conn = await rawConnection();
    const ch = await conn.createConfirmChannel();
    for (const [, body, , headers] of inputs) ch.sendToQueue(queue, Buffer.from(body), { persistent: true, headers });
    ch.sendToQueue(queue, Buffer.from(event({ id: 'good-after-bad', data: { orderId: 'good-after-bad', total: 3 } })));
    await ch.waitForConfirms();
    await conn.close();

    await waitFor(
      () => alerts[ORDERS].length === inputs.length && (log.strict ?? []).some((e) => e.orderId === 'good-after-bad'),
      'every bad input dead-lettered and the good one handled',
      15_000,
    );
    const listed = await orders.get(DeadLetterService).list({ subscriber: 'strict' });
    expect(listed).toHaveLength(inputs.length);
    // handlers run concurrently, so dead letters are in completion order: match them by body
    for (const [name, body, reason] of inputs) {
      const dl = listed.find((d) => d.body === body);
      expect([name, dl && `${dl.error.name}: ${dl.error.message}`]).toEqual([name, expect.stringMatching(reason)]);
      expect(dl).toMatchObject({ subscriber: 'strict', sourceQueue: queue, attempts: 1 });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // the dead letter keeps the message's own headers (the 10 kB one included) beside ours
    const raw = await rawConnection();
    const rch = await raw.createChannel();
    let found = false;
    for (let i = 0; i < inputs.length; i++) {
      const m = await rch.get(`${ORDERS}.dead-letter`, { noAck: false });
      if (m && m.properties.headers?.['x-correlation-id']) {
        found =
          String(m.properties.headers['x-correlation-id']) === crlf && m.properties.headers[H.subscriber] === 'strict';
      }
    }
    await raw.close(); // gives the messages back
    expect(found).toBe(true);
    expect(await orders.get(DeadLetterService).purge({ subscriber: 'strict' })).toBe(inputs.length);
  });
});
