import { randomUUID } from 'node:crypto';
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';
import { HeadersTooLargeError } from '../../lib/transport/rabbitmq/errors/headers-too-large.error';
import { RABBITMQ_HEADERS as H } from '../../lib/transport/rabbitmq/rabbitmq.naming';
import type { RabbitMqPublisher } from '../../lib/transport/rabbitmq/rabbitmq.publisher';
import type { RabbitMqTransport } from '../../lib/transport/rabbitmq/rabbitmq.transport';
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
const services = ['big', 'pub', 'dlq', 'redeliver', 'crash'];

function sub(name: string, types: string[], extra: Partial<SubscriberDescriptor> = {}): SubscriberDescriptor {
  return { name, types, concurrency: 1, retryDelaysMs: [50], ...extra };
}

async function service(name: string, options: Parameters<typeof makeTransport>[1] = {}) {
  const transport = makeTransport(run, { queuePrefix: `${run}.${name}`, ...options });
  const context = makeContext(name);
  await transport.connect(context);
  transports.push(transport);
  return { transport, context, prefix: `${run}.${name}` };
}

/** Internals reached only to prove the shared channels were not replaced. */
interface Internals {
  runtime: { publisher: Pick<RabbitMqPublisher, 'publish'> & { channel: { channel?: ConfirmChannel } } };
  consumers: Map<string, { channel?: { channel?: Channel } }>;
}
const internals = (t: RabbitMqTransport) => t as unknown as Internals;

/** About `bytes` of foreign headers in 2 KB values. */
function bigHeaders(bytes: number): Record<string, string> {
  const headers: Record<string, string> = { traceparent: '00-abc-def-01' };
  for (let i = 0; i * 2_000 < bytes; i++) headers[`x-app-blob-${i}`] = 'h'.repeat(2_000);
  return headers;
}

/** The oldest message of a queue, given back at once. */
async function peek(queue: string): Promise<GetMessage> {
  const conn = await rawConnection();
  try {
    const ch = await conn.createChannel();
    const msg = await ch.get(queue, { noAck: false });
    if (msg === false) throw new Error(`${queue} is empty`);
    ch.nack(msg, false, true);
    await ch.close();
    return msg;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

afterAll(async () => {
  for (const t of transports) await t.close(1_000).catch(() => undefined);
  const queues = ['big.slow', 'big.other', 'pub.sink', 'dlq.doomed', 'redeliver.fragile', 'crash.poison'];
  const deadLetterQueues = services.map((s) => `${run}.${s}.dead-letter`);
  await cleanup(
    run,
    [...queues.map((q) => `${run}.${q}`), ...deadLetterQueues],
    [`${run}.events`, ...services.map((s) => `${run}.${s}.retry`)],
  );
});

describe('RabbitMQ transport: failures that must not block a queue', () => {
  it('retries and dead-letters a message with ~60 KB of headers (foreign headers over budget dropped), handles the next one, and leaves other publishes alone', async () => {
    const a = await service('big');
    const bigBody = `{"not":"an envelope ${randomUUID()}"}`;
    const slow = new Recorder((m) => {
      if (m.body.toString() !== bigBody) return { status: 'ack' };
      return m.attempt === 1 ? retry(m, 50) : deadLetter(m, 'BoomError', 'x'.repeat(50_000));
    });
    const other = new Recorder();
    await a.transport.subscribe(sub('slow', ['Slow']), slow.handler);
    await a.transport.subscribe(sub('other', ['Other'], { concurrency: 8 }), other.handler);
    const publisherChannel = internals(a.transport).runtime.publisher.channel.channel;
    expect(publisherChannel).toBeDefined();

    // raw publish straight to the subscriber queue, as a foreign producer would
    const conn = await rawConnection();
    const ch = await conn.createConfirmChannel();
    const headers = bigHeaders(60_000);
    ch.sendToQueue(`${a.prefix}.slow`, Buffer.from(bigBody), { headers, messageId: 'big-1', persistent: true });
    await ch.waitForConfirms();
    await conn.close();

    const valid = makeMessage('Slow', { n: 1 });
    const others = Array.from({ length: 200 }, (_, n) => makeMessage('Other', { n }));
    await Promise.all([a.transport.publish(valid), ...others.map((m) => a.transport.publish(m))]);

    await waitFor(() => slow.received.some((m) => m.body.toString() === valid.body), 'the valid message behind it');
    await waitFor(() => a.context.deadLetters.length === 1, 'the big message dead-lettered');
    await waitFor(() => other.received.length >= 200, 'the other publishes');
    expect(slow.received.filter((m) => m.body.toString() === bigBody).map((m) => m.attempt)).toEqual([1, 2]);
    // the retry carried the headers within budget (traceparent first) and noted the rest
    const retried = slow.received.find((m) => m.attempt === 2)!;
    expect(retried.headers.traceparent).toBe('00-abc-def-01');
    expect(String(retried.headers[H.headersDropped])).toMatch(/^\d+ header\(s\), \d+ bytes: x-app-blob-/);
    // every other event arrived once: the publisher channel was never recycled (no re-sends)
    expect(new Set(other.received.map(bodyId)).size).toBe(200);
    expect(other.received).toHaveLength(200);
    expect(internals(a.transport).runtime.publisher.channel.channel).toBe(publisherChannel);

    const [letter] = await a.transport.deadLetters.list();
    expect(letter.body).toBe(bigBody);
    expect(letter.error.name).toBe('BoomError');
    expect(Buffer.byteLength(letter.error.message)).toBeLessThanOrEqual(2_048);
    const raw = await peek(`${a.prefix}.dead-letter`);
    expect(raw.content.toString()).toBe(bigBody);
    expect(raw.properties.messageId).toBe('big-1');
    expect(raw.properties.headers?.[H.headersDropped]).toEqual(expect.any(String));
    expect(raw.properties.headers?.[H.subscriber]).toBe('slow');
    expect(await a.transport.deadLetters.purge()).toBe(1);
  }, 30_000);

  it('rejects a publish whose headers cannot be encoded before touching the shared channel; the next publish goes through', async () => {
    const a = await service('pub');
    const r = new Recorder();
    await a.transport.subscribe(sub('sink', ['Ping']), r.handler);
    const { publisher } = internals(a.transport).runtime;
    const before = publisher.channel.channel;
    await expect(
      publisher.publish({
        exchange: '',
        routingKey: `${a.prefix}.sink`,
        content: Buffer.from('x'),
        properties: { messageId: 'too-big', headers: bigHeaders(70_000) },
        targeted: true,
      }),
    ).rejects.toBeInstanceOf(HeadersTooLargeError);
    const ok = makeMessage('Ping', {});
    await a.transport.publish(ok);
    await waitFor(() => r.received.length === 1, 'the next publish');
    expect(bodyId(r.received[0])).toBe(ok.envelope.id);
    expect(publisher.channel.channel).toBe(before);
  });

  it('list({limit}) on a dead-letter queue of 50 returns the 10 oldest and leaves all 50; purge({limit}) removes that many', async () => {
    const a = await service('dlq');
    const r = new Recorder((m) => deadLetter(m));
    await a.transport.subscribe(sub('doomed', ['Doomed']), r.handler);
    const sent = Array.from({ length: 50 }, (_, n) => makeMessage('Doomed', { n }));
    for (const m of sent) await a.transport.publish(m);
    await waitFor(async () => (await a.transport.deadLetters.count()) === 50, '50 dead letters');

    const ten = await a.transport.deadLetters.list({ limit: 10 });
    expect(ten.map((d) => d.messageId)).toEqual(sent.slice(0, 10).map((m) => m.envelope.id));
    expect(await a.transport.deadLetters.count()).toBe(50);
    expect(await a.transport.deadLetters.list({ type: 'Doomed', limit: 3 })).toHaveLength(3);
    expect(await a.transport.deadLetters.list()).toHaveLength(50);
    expect(await a.transport.deadLetters.purge({ limit: 20 })).toBe(20);
    expect(await a.transport.deadLetters.count()).toBe(30);
    const rest = await a.transport.deadLetters.list();
    expect(rest.map((d) => d.messageId)).toEqual(sent.slice(20).map((m) => m.envelope.id));
    expect(await a.transport.deadLetters.purge()).toBe(30);
    expect(await a.transport.deadLetters.count()).toBe(0);
  }, 30_000);

  it('counts a delivery returned by a dying channel (redelivered) as a further attempt, recorded on the message', async () => {
    const a = await service('redeliver');
    let kills = 0;
    const r = new Recorder(async () => {
      if (kills === 0) {
        kills++;
        // the consumer's channel dies mid-handling: the broker requeues the delivery as redelivered
        await internals(a.transport).consumers.get('fragile')!.channel!.channel!.close();
      }
      return { status: 'ack' };
    });
    await a.transport.subscribe(sub('fragile', ['Fragile']), r.handler);
    const msg = makeMessage('Fragile', {});
    await a.transport.publish(msg);
    await waitFor(() => r.received.length === 2, 'the redelivery');
    expect(r.received.map((m) => m.attempt)).toEqual([1, 2]);
    expect(r.received[1].headers[H.redeliveries]).toBe(1);
    expect(r.received[1].firstFailureAt).toEqual(expect.any(String));
    expect(bodyId(r.received[1])).toBe(msg.envelope.id);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received).toHaveLength(2);
    expect(await a.transport.deadLetters.count()).toBe(0);
  }, 20_000);

  it('dead-letters a message whose deliveries keep dying once it came back redeliveryLimit times in a row, without handling it again', async () => {
    const a = await service('crash', { redeliveryLimit: 2 });
    const r = new Recorder(async () => {
      await internals(a.transport).consumers.get('poison')!.channel!.channel!.close();
      return { status: 'ack' };
    });
    await a.transport.subscribe(sub('poison', ['Poison']), r.handler);
    const msg = makeMessage('Poison', {});
    await a.transport.publish(msg);
    await waitFor(() => a.context.deadLetters.length === 1, 'the dead letter', 15_000);
    expect(r.received.map((m) => m.attempt)).toEqual([1, 2]);
    const [letter] = a.context.deadLetters;
    expect(letter.error.name).toBe('RedeliveryLimitError');
    expect(letter.attempts).toBe(2);
    expect(letter.messageId).toBe(msg.envelope.id);
    expect(await a.transport.deadLetters.count()).toBe(1);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received).toHaveLength(2);
  }, 20_000);
});
