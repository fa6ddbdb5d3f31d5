import { CLOUDEVENTS_CONTENT_TYPE } from '../../lib/message/cloudevents.codec';
import { RABBITMQ_HEADERS as H } from '../../lib/transport/rabbitmq/rabbitmq.naming';
import { RabbitMqTransport } from '../../lib/transport/rabbitmq/rabbitmq.transport';
import { TopologyMismatchError } from '../../lib/transport/rabbitmq/errors/topology-mismatch.error';
import { UnroutableMessageError } from '../../lib/transport/rabbitmq/errors/unroutable-message.error';
import type { SubscriberDescriptor } from '../../lib/transport/transport.interface';
import {
  Recorder,
  bodyId,
  cleanup,
  deadLetter,
  makeContext,
  makeMessage,
  makeTransport,
  rawConnection,
  retry,
  runId,
  waitFor,
} from './rabbitmq-test.helpers';

const run = runId();
const transports: RabbitMqTransport[] = [];
const queues: string[] = [];

function sub(name: string, types: string[], extra: Partial<SubscriberDescriptor> = {}): SubscriberDescriptor {
  return { name, types, concurrency: 4, retryDelaysMs: [50, 150], ...extra };
}

async function service(name: string, options: Parameters<typeof makeTransport>[1] = {}) {
  const transport = makeTransport(run, { queuePrefix: `${run}.${name}`, ...options });
  const context = makeContext(name);
  await transport.connect(context);
  transports.push(transport);
  return { transport, context, prefix: `${run}.${name}` };
}

afterAll(async () => {
  for (const t of transports) await t.close(1_000).catch(() => undefined);
  await cleanup(run, queues, [
    `${run}.events`,
    ...['svc1', 'svc2', 'svc3', 'svc4', 'svc5', 'svc6', 'svc7', 'svc8', 'svc9', 'svc10'].map(
      (s) => `${run}.${s}.retry`,
    ),
  ]);
});

describe('RabbitMqTransport (real broker)', () => {
  it('fans an event out to every subscriber of its type, in this and another service, with AMQP properties mirrored', async () => {
    const a = await service('svc1');
    const b = await service('svc2');
    const r1 = new Recorder();
    const r2 = new Recorder();
    const r3 = new Recorder();
    await a.transport.subscribe(sub('first', ['OrderCreated']), r1.handler);
    await a.transport.subscribe(sub('second', ['OrderCreated', 'OrderShipped']), r2.handler);
    await b.transport.subscribe(sub('other', ['OrderCreated']), r3.handler);
    // a raw queue bound to the type, to look at the AMQP properties
    const conn = await rawConnection();
    const ch = await conn.createChannel();
    const { queue: rawQueue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(rawQueue, `${run}.events`, 'OrderCreated');

    const msg = makeMessage('OrderCreated', { orderId: 'o-1' });
    await a.transport.publish(msg);
    await waitFor(() => r1.received.length === 1 && r2.received.length === 1 && r3.received.length === 1, 'fan-out');
    for (const r of [r1, r2, r3]) {
      expect(bodyId(r.received[0])).toBe(msg.envelope.id);
      expect(r.received[0].body.toString()).toBe(msg.body);
      expect(r.received[0].attempt).toBe(1);
    }
    expect(r1.received[0].source).toBe(`${a.prefix}.first`);
    expect(r3.received[0].source).toBe(`${b.prefix}.other`);

    let raw = await ch.get(rawQueue, { noAck: true });
    await waitFor(async () => raw !== false || (raw = await ch.get(rawQueue, { noAck: true })) !== false, 'raw copy');
    if (raw === false) throw new Error('no raw copy');
    expect(raw.properties).toMatchObject({
      contentType: CLOUDEVENTS_CONTENT_TYPE,
      deliveryMode: 2,
      messageId: msg.envelope.id,
      correlationId: msg.envelope.correlationId,
      type: 'OrderCreated',
      appId: 'tests',
      timestamp: Math.floor(Date.parse(msg.envelope.time) / 1000),
    });
    await conn.close();
    queues.push(`${a.prefix}.first`, `${a.prefix}.second`, `${b.prefix}.other`);
  });

  it('delivers a targeted message (destination) to that one subscriber only, with attempt and first failure', async () => {
    const a = await service('svc3');
    const r1 = new Recorder();
    const r2 = new Recorder();
    await a.transport.subscribe(sub('one', ['ItemAdded']), r1.handler);
    await a.transport.subscribe(sub('two', ['ItemAdded']), r2.handler);
    const first = new Date(Date.now() - 5_000).toISOString();
    await a.transport.publish(
      makeMessage('ItemAdded', { n: 1 }, { destination: 'two', attempt: 3, firstFailureAt: first }),
    );
    await waitFor(() => r2.received.length === 1, 'targeted delivery');
    await new Promise((r) => setTimeout(r, 200));
    expect(r1.received).toHaveLength(0);
    expect(r2.received[0].attempt).toBe(3);
    expect(r2.received[0].firstFailureAt).toBe(first);
    // unknown destination: the broker returns it and the publish rejects
    await expect(a.transport.publish(makeMessage('ItemAdded', {}, { destination: 'nobody' }))).rejects.toBeInstanceOf(
      UnroutableMessageError,
    );
    queues.push(`${a.prefix}.one`, `${a.prefix}.two`);
  });

  it('retries through TTL delay queues (one per level) back to the failed subscriber only, then succeeds', async () => {
    const a = await service('svc4');
    const started = new Map<number, number>();
    const failing = new Recorder((m) => {
      started.set(m.attempt, Date.now());
      return m.attempt < 3 ? retry(m, m.attempt === 1 ? 50 : 150) : { status: 'ack' };
    });
    const bystander = new Recorder();
    await a.transport.subscribe(sub('flaky', ['PaymentTaken']), failing.handler);
    await a.transport.subscribe(sub('calm', ['PaymentTaken']), bystander.handler);
    const msg = makeMessage('PaymentTaken', { amount: 5 });
    await a.transport.publish(msg);
    await waitFor(() => failing.received.length === 3, 'three attempts');
    expect(failing.received.map((m) => m.attempt)).toEqual([1, 2, 3]);
    expect(failing.received.every((m) => m.body.toString() === msg.body)).toBe(true);
    expect(failing.received[1].firstFailureAt).toBeDefined();
    expect(failing.received[2].firstFailureAt).toBe(failing.received[1].firstFailureAt);
    expect(started.get(2)! - started.get(1)!).toBeGreaterThanOrEqual(45);
    expect(started.get(3)! - started.get(2)!).toBeGreaterThanOrEqual(140);
    await new Promise((r) => setTimeout(r, 300));
    expect(bystander.received).toHaveLength(1);
    // the delay queues are queue-level TTL queues
    const conn = await rawConnection();
    const ch = await conn.createChannel();
    expect((await ch.checkQueue(`${a.prefix}.retry.50ms`)).messageCount).toBe(0);
    expect((await ch.checkQueue(`${a.prefix}.retry.150ms`)).messageCount).toBe(0);
    await conn.close();
    // a delay beyond the declared levels declares a level on demand (rounded up)
    const late = new Recorder((m) => (m.attempt === 1 ? retry(m, 233) : { status: 'ack' }));
    await a.transport.subscribe(sub('late', ['Late']), late.handler);
    await a.transport.publish(makeMessage('Late', {}));
    await waitFor(() => late.received.length === 2, 'on-demand level');
    queues.push(`${a.prefix}.flaky`, `${a.prefix}.calm`, `${a.prefix}.late`, `${a.prefix}.retry.240ms`);
  });

  it('dead-letters the unchanged body with all reason headers after exhaustion, then lists, replays to the failed subscriber only, and purges', async () => {
    const a = await service('svc5');
    let fixed = false;
    const failing = new Recorder((m) => (fixed ? { status: 'ack' } : m.attempt < 2 ? retry(m, 50) : deadLetter(m)));
    const healthy = new Recorder();
    await a.transport.subscribe(sub('fragile', ['Shipped', 'Other']), failing.handler);
    await a.transport.subscribe(sub('healthy', ['Shipped']), healthy.handler);
    const msg = makeMessage('Shipped', { parcel: 'p-1' });
    await a.transport.publish(msg);
    await waitFor(() => a.context.deadLetters.length === 1, 'dead letter hook');
    expect(healthy.received).toHaveLength(1);

    // raw look at the dead-letter queue: body unchanged, reason headers present
    const conn = await rawConnection();
    const ch = await conn.createChannel();
    const raw = await ch.get(`${a.prefix}.dead-letter`, { noAck: false });
    if (raw === false) throw new Error('dead-letter queue is empty');
    expect(raw.content.toString()).toBe(msg.body);
    const h = raw.properties.headers!;
    expect(h[H.errorName]).toBe('BoomError');
    expect(h[H.errorMessage]).toBe('boom');
    expect(String(h[H.errorStack])).toContain('at handler');
    expect(h[H.subscriber]).toBe('fragile');
    expect(h[H.sourceQueue]).toBe(`${a.prefix}.fragile`);
    expect(h[H.attempts]).toBe(2);
    expect(h[H.firstFailureAt]).toEqual(expect.any(String));
    expect(h[H.lastFailureAt]).toEqual(expect.any(String));
    expect(h[H.deadLetteredAt]).toEqual(expect.any(String));
    expect(raw.properties.messageId).toBe(msg.envelope.id);
    ch.nack(raw, false, true);
    await ch.close();
    await conn.close();

    const hooked = a.context.deadLetters[0];
    expect(hooked).toMatchObject({ messageId: msg.envelope.id, type: 'Shipped', subscriber: 'fragile', attempts: 2 });

    // a second, undecodable dead letter on another type
    failing.decide = (m) => deadLetter(m, 'MalformedMessageError', 'not JSON');
    const conn2 = await rawConnection();
    const ch2 = await conn2.createConfirmChannel();
    ch2.sendToQueue(`${a.prefix}.fragile`, Buffer.from('not json at all'));
    await ch2.waitForConfirms();
    await conn2.close();
    await waitFor(() => a.context.deadLetters.length === 2, 'second dead letter');
    failing.decide = (m) => (fixed ? { status: 'ack' } : deadLetter(m));

    const listed = await a.transport.deadLetters.list();
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatchObject({
      id: hooked.id,
      messageId: msg.envelope.id,
      subscriber: 'fragile',
      body: msg.body,
    });
    expect(listed[0].envelope?.data).toEqual({ parcel: 'p-1' });
    expect(listed[1]).toMatchObject({ body: 'not json at all', error: { name: 'MalformedMessageError' } });
    expect(listed[1].envelope).toBeUndefined();
    expect(await a.transport.deadLetters.count()).toBe(2);
    expect(await a.transport.deadLetters.list({ errorName: 'MalformedMessageError' })).toHaveLength(1);
    expect(await a.transport.deadLetters.list({ limit: 1 })).toEqual([listed[0]]);
    // listing again gives the same order (the snapshot is given back in place)
    expect((await a.transport.deadLetters.list()).map((d) => d.id)).toEqual(listed.map((d) => d.id));

    fixed = true;
    const before = failing.received.length;
    expect(await a.transport.deadLetters.replay({ ids: [hooked.id] })).toBe(1);
    await waitFor(() => failing.received.length === before + 1, 'replayed delivery');
    const replayed = failing.received[failing.received.length - 1];
    expect(replayed.attempt).toBe(1);
    expect(replayed.body.toString()).toBe(msg.body);
    expect(replayed.headers[H.errorName]).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(healthy.received).toHaveLength(1); // only the failed subscriber got it
    expect(await a.transport.deadLetters.count()).toBe(1);

    expect(await a.transport.deadLetters.purge({ subscriber: 'someone-else' })).toBe(0);
    expect(await a.transport.deadLetters.purge({ subscriber: 'fragile' })).toBe(1);
    expect(await a.transport.deadLetters.count()).toBe(0);
    expect(await a.transport.deadLetters.list()).toEqual([]);
    queues.push(`${a.prefix}.fragile`, `${a.prefix}.healthy`, `${a.prefix}.dead-letter`);
  });

  it('reports queue depth and consumers per subscriber queue and for the dead-letter queue', async () => {
    const a = await service('svc6');
    const gate: Array<() => void> = [];
    const slow = new Recorder(() => new Promise((resolve) => gate.push(() => resolve({ status: 'ack' }))));
    await a.transport.subscribe(sub('slow', ['Tick'], { concurrency: 1 }), slow.handler);
    for (let i = 0; i < 5; i++) await a.transport.publish(makeMessage('Tick', { i }));
    await waitFor(() => slow.received.length === 1, 'first tick');
    await waitFor(async () => (await a.transport.stats())[0].depth === 4, 'depth 4');
    const stats = await a.transport.stats();
    expect(stats).toEqual([
      { subscriber: 'slow', queue: `${a.prefix}.slow`, depth: 4, consumers: 1 },
      { subscriber: 'dead-letter', queue: `${a.prefix}.dead-letter`, depth: 0, consumers: 0 },
    ]);
    // close drains the in-flight handler and acks it; the rest stay in the queue
    setTimeout(() => gate.forEach((g) => g()), 100);
    await a.transport.close(5_000);
    const conn = await rawConnection();
    const ch = await conn.createChannel();
    const after = await ch.checkQueue(`${a.prefix}.slow`);
    expect(after).toMatchObject({ messageCount: 4, consumerCount: 0 });
    await conn.close();
    expect(a.transport.isConnected()).toBe(false);
    queues.push(`${a.prefix}.slow`);
  });

  it('refuses to start when a queue exists with other arguments, shows the difference and deletes nothing', async () => {
    const prefix = `${run}.svc7`;
    const conn = await rawConnection();
    const ch = await conn.createChannel();
    await ch.assertQueue(`${prefix}.legacy`, { durable: true, arguments: { 'x-max-length': 10 } });
    await ch.sendToQueue(`${prefix}.legacy`, Buffer.from('keep me'));
    const a = await service('svc7');
    const error = await a.transport.subscribe(sub('legacy', ['X']), async () => ({ status: 'ack' })).catch((e) => e);
    expect(error).toBeInstanceOf(TopologyMismatchError);
    expect(error.message).toContain(`"${prefix}.legacy"`);
    expect(error.message).toContain('x-max-length');
    expect(error.message).toMatch(/never deletes/);
    await waitFor(async () => (await ch.checkQueue(`${prefix}.legacy`)).messageCount === 1, 'queue kept');
    // quorum declared against an existing classic queue also fails readably
    const q = makeTransport(run, { queuePrefix: prefix, queueType: 'quorum' });
    transports.push(q);
    const qError = await q.connect(makeContext('svc7')).catch((e) => e);
    expect(qError).toBeInstanceOf(TopologyMismatchError);
    expect(qError.message).toContain('x-queue-type');
    await conn.close();
    queues.push(`${prefix}.legacy`, `${prefix}.dead-letter`);
  });

  it('warns (default) or rejects (unroutableEvents: reject) when an event has no subscriber queue', async () => {
    const a = await service('svc1');
    await expect(a.transport.publish(makeMessage('NobodyListens', {}))).resolves.toBeUndefined();
    expect(a.transport.returnedEvents).toBe(1);
    const strict = await service('svc2', { unroutableEvents: 'reject' });
    await expect(strict.transport.publish(makeMessage('NobodyListens', {}))).rejects.toBeInstanceOf(
      UnroutableMessageError,
    );
  });

  it('works the same with quorum queues (delay queues dead-letter at-least-once)', async () => {
    const a = await service('svc8', { queueType: 'quorum' });
    const r = new Recorder((m) => (m.attempt < 2 ? retry(m, 50) : deadLetter(m)));
    await a.transport.subscribe(sub('replicated', ['Quorum']), r.handler);
    const msg = makeMessage('Quorum', { q: 1 });
    await a.transport.publish(msg);
    await waitFor(() => a.context.deadLetters.length === 1, 'dead letter through a quorum delay queue');
    expect(r.received.map((m) => m.attempt)).toEqual([1, 2]);
    expect(await a.transport.deadLetters.list()).toMatchObject([
      { messageId: msg.envelope.id, subscriber: 'replicated' },
    ]);
    expect(await a.transport.deadLetters.purge()).toBe(1);
    const conn = await rawConnection();
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    // declaring it as classic fails: it really is a quorum queue
    await expect(ch.assertQueue(`${a.prefix}.replicated`, { durable: true })).rejects.toThrow(/x-queue-type/);
    await conn.close().catch(() => undefined);
    queues.push(
      `${a.prefix}.replicated`,
      `${a.prefix}.dead-letter`,
      `${a.prefix}.retry.50ms`,
      `${a.prefix}.retry.150ms`,
    );
  });

  it('serialises concurrent dead-letter operations from two instances: each sees the whole snapshot, in order', async () => {
    const a = await service('svc9');
    const b = await service('svc9'); // a second instance of the same service
    const r = new Recorder((m) => deadLetter(m));
    await a.transport.subscribe(sub('rejecting', ['Rejected'], { concurrency: 1 }), r.handler);
    for (let i = 0; i < 20; i++) await a.transport.publish(makeMessage('Rejected', { i }));
    await waitFor(() => a.context.deadLetters.length === 20, '20 dead letters');
    const expected = a.context.deadLetters.map((d) => d.id);
    const lists = await Promise.all([
      a.transport.deadLetters.list(),
      b.transport.deadLetters.list(),
      a.transport.deadLetters.list(),
      b.transport.deadLetters.count(),
    ]);
    for (const list of lists.slice(0, 3) as Array<Array<{ id: string }>>)
      expect(list.map((d) => d.id)).toEqual(expected);
    const [purged, listed] = await Promise.all([
      a.transport.deadLetters.purge({ ids: expected.slice(0, 5) }),
      b.transport.deadLetters.list(),
    ]);
    expect(purged).toBe(5);
    // the list ran either before or after the purge, never halfway
    expect([20, 15]).toContain(listed.length);
    expect((await b.transport.deadLetters.list()).map((d) => d.id)).toEqual(expected.slice(5));
    queues.push(`${a.prefix}.rejecting`, `${a.prefix}.dead-letter`);
  });

  it('at close, gives deliveries whose handler never started back uncounted; one still running comes back counted', async () => {
    const a = await service('svc10', { prefetch: 10 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const index = (m: { body: Buffer | string }) => (JSON.parse(m.body.toString()) as { data: { i: number } }).data.i;
    const first = new Recorder(async (m) => {
      // 0 is running when the consumer stops; 1 is waiting (as for a commit group) and answers not-started
      if (index(m) === 0) await gate;
      else await new Promise((r) => m.stopping!.addEventListener('abort', r, { once: true }));
      return index(m) === 0 ? { status: 'ack' } : { status: 'not-started' };
    });
    await a.transport.subscribe(sub('held', [], { concurrency: 2 }), first.handler);
    const earlier = '2026-01-01T00:00:00.000Z';
    const sent = Array.from({ length: 6 }, (_, i) =>
      // 3 is a retry already: its attempt and first failure are kept as they are
      makeMessage('Held', { i }, { destination: 'held', ...(i === 3 ? { attempt: 2, firstFailureAt: earlier } : {}) }),
    );
    for (const m of sent) await a.transport.publish(m);
    await waitFor(() => first.received.length === 2, 'two handlers running');
    await new Promise((r) => setTimeout(r, 200)); // 2..5 wait in the prefetch buffer
    await a.transport.close(300);
    release();

    const b = await service('svc10');
    const second = new Recorder();
    await b.transport.subscribe(sub('held', []), second.handler);
    await waitFor(() => second.received.length >= 6, 'every message again');
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would show by now
    expect(second.received).toHaveLength(6);
    const byIndex = new Map(second.received.map((m) => [index(m), m]));
    expect([...byIndex.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // cut off while running: counted, as a crash would be
    expect(byIndex.get(0)!.attempt).toBe(2);
    expect(byIndex.get(0)!.headers[H.redeliveries]).toBe(1);
    // never started: as they were
    for (const i of [1, 2, 4, 5]) {
      expect(byIndex.get(i)!.attempt).toBe(1);
      expect(byIndex.get(i)!.headers[H.redeliveries]).toBeUndefined();
    }
    expect(byIndex.get(3)!.attempt).toBe(2);
    expect(byIndex.get(3)!.firstFailureAt).toBe(earlier);
    expect(b.context.deadLetters).toEqual([]);
    queues.push(`${a.prefix}.held`, `${a.prefix}.dead-letter`);
  });
});
