/**
 * RabbitMQ throughput of a Nest app using the module beside raw amqplib doing the same, in the same run.
 *
 *   npm run bench:rabbitmq       (BENCH_ROUNDS=5 BENCH_PUBLISH_N=5000 BENCH_SEQUENTIAL_N=300 BENCH_CONSUME_N=15000 BENCH_WINDOW=500
 *                                 AMQP_URL=amqp://guest:guest@127.0.0.1:5672 to tune)
 *
 * Publish: N persistent, mandatory messages with publisher confirms to a durable queue bound to the
 * type, at most BENCH_WINDOW unconfirmed at a time (and a sequential variant: one at a time). Ours is
 * `EventBus.publish(new BenchPublished(…))` in a Nest app with `MessagingModule.forRoot({ transport:
 * 'rabbitmq' })` (envelope, metadata, encoding, confirm, returned-message matching); raw amqplib is a
 * ConfirmChannel with a callback per message and a body encoded beforehand.
 * Consume: the queue is filled with N messages first, then consumed with manual ack and prefetch
 * 200; the clock runs from the first delivery to the last ack. Ours is a Nest app with a
 * `@Subscribe(BenchConsumed, { concurrency: 200, inbox: false })` handler that counts (the whole
 * consumer pipeline: decode, checks, class rebuild, context, stats, ack); raw amqplib is `consume` +
 * `ack` (it neither parses nor checks the body).
 * Rounds alternate which side goes first; reported: median msgs/s per side and the ratio of medians.
 * Everything declared is deleted at the end.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connect, type Channel, type ConfirmChannel } from 'amqplib';
import { EventBus, Message, MESSAGING_OPTIONS, MessagingModule, Subscribe } from '../lib';
import type { ResolvedMessagingOptions } from '../lib/config/messaging-options.interface';
import { retryDelayLevels } from '../lib/consumer/retry.policy';
import { encodeEnvelope } from '../lib/message/cloudevents.codec';
import type { MessageEnvelope } from '../lib/message/envelope';
import type { OutboundMessage } from '../lib/transport/transport.interface';

const URL = process.env.AMQP_URL ?? process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PUBLISH_N = Number(process.env.BENCH_PUBLISH_N ?? 5000);
const SEQUENTIAL_N = Number(process.env.BENCH_SEQUENTIAL_N ?? 300);
const CONSUME_N = Number(process.env.BENCH_CONSUME_N ?? 15000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 500);
const PREFETCH = 200;
const run = `bench${randomBytes(3).toString('hex')}`;
const exchange = `${run}.events`;
const prefix = `${run}.svc`;

const data = (n: number) => ({
  orderId: `order-${n}`,
  customerId: 'customer-42',
  items: [{ sku: 'sku-1', qty: 2, price: 9.99 }],
  total: 19.98,
});

@Message('BenchPublished')
class BenchPublished {
  constructor(
    readonly orderId: string,
    readonly customerId: string,
    readonly items: { sku: string; qty: number; price: number }[],
    readonly total: number,
  ) {}
}
@Message('BenchConsumed')
class BenchConsumed {
  orderId!: string;
}

const consumed = { count: 0, n: 0, first: 0n, last: 0n, finish: () => undefined as void };

@Injectable()
class ConsumeBench {
  @Subscribe(BenchConsumed, { name: 'consume-bench', concurrency: 200, inbox: false })
  on(_e: BenchConsumed): void {
    if (consumed.count === 0) consumed.first = process.hrtime.bigint();
    if (++consumed.count === consumed.n) {
      consumed.last = process.hrtime.bigint();
      setImmediate(consumed.finish);
    }
  }
}

function app(providers: Type[]): Promise<INestApplicationContext> {
  @Module({
    imports: [
      MessagingModule.forRoot({
        serviceName: 'bench',
        transport: 'rabbitmq',
        rabbitmq: { url: URL, exchange, queuePrefix: prefix, connectionName: run },
      }),
    ],
    providers,
  })
  class RabbitBenchModule {}
  return NestFactory.createApplicationContext(RabbitBenchModule, { logger: ['error'] });
}

function message(type: string, n: number): OutboundMessage {
  const envelope: MessageEnvelope = {
    id: randomUUID(),
    type,
    version: 1,
    time: new Date().toISOString(),
    source: 'bench',
    correlationId: randomUUID(),
    headers: {},
    data: data(n),
  };
  return { envelope, body: encodeEnvelope(envelope) };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs `start(i, done)` for i < n with at most `window` outstanding. */
function windowed(n: number, window: number, start: (i: number, done: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let finished = 0;
    const done = (err?: unknown): void => {
      if (err) return reject(err);
      if (++finished === n) return resolve();
      if (next < n) start(next++, done);
    };
    while (next < Math.min(window, n)) start(next++, done);
  });
}

async function main(): Promise<void> {
  const conn = await connect(URL);
  const admin = await conn.createChannel();
  const pubQueue = `${prefix}.publish-bench`;
  const conQueue = `${prefix}.consume-bench`;
  const publisher = await app([]);
  const events = publisher.get(EventBus);
  await admin.assertQueue(pubQueue, { durable: true });
  await admin.bindQueue(pubQueue, exchange, 'BenchPublished');
  const raw: ConfirmChannel = await conn.createConfirmChannel();

  const rawPublish = (msgs: OutboundMessage[], window: number) =>
    windowed(msgs.length, window, (i, done) => {
      const m = msgs[i];
      raw.publish(
        exchange,
        m.envelope.type,
        Buffer.from(m.body),
        {
          persistent: true,
          mandatory: true,
          contentType: 'application/cloudevents+json',
          messageId: m.envelope.id,
          correlationId: m.envelope.correlationId,
          type: m.envelope.type,
          appId: m.envelope.source,
          timestamp: Math.floor(Date.parse(m.envelope.time) / 1000),
          headers: {},
        },
        (err) => done(err ?? undefined),
      );
    });
  const ourPublish = (msgs: OutboundMessage[], window: number) =>
    windowed(msgs.length, window, (i, done) => {
      const d = msgs[i].envelope.data as ReturnType<typeof data>;
      void events.publish(new BenchPublished(d.orderId, d.customerId, d.items, d.total)).then(() => done(), done);
    });

  async function publishScenario(label: string, n: number, window: number) {
    const ours: number[] = [];
    const theirs: number[] = [];
    await ourPublish(
      Array.from({ length: Math.min(n, 500) }, (_, i) => message('BenchPublished', i)),
      window,
    ); // warm-up
    await rawPublish(
      Array.from({ length: Math.min(n, 500) }, (_, i) => message('BenchPublished', i)),
      window,
    );
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of r % 2 ? ['raw', 'ours'] : ['ours', 'raw']) {
        await admin.purgeQueue(pubQueue);
        const msgs = Array.from({ length: n }, (_, i) => message('BenchPublished', i));
        const t0 = process.hrtime.bigint();
        await (side === 'ours' ? ourPublish(msgs, window) : rawPublish(msgs, window));
        const rate = n / (Number(process.hrtime.bigint() - t0) / 1e9);
        (side === 'ours' ? ours : theirs).push(rate);
      }
    }
    report(label, ours, theirs);
  }

  async function fill(n: number) {
    await windowed(n, 1000, (i, done) =>
      raw.sendToQueue(
        conQueue,
        Buffer.from(message('BenchConsumed', i).body),
        { persistent: true, contentType: 'application/cloudevents+json' },
        (err) => done(err ?? undefined),
      ),
    );
  }

  async function consumeOurs(n: number): Promise<number> {
    consumed.count = 0;
    consumed.n = n;
    const all = new Promise<void>((r) => (consumed.finish = r));
    const consumer = await app([ConsumeBench]);
    await all;
    await consumer.close();
    return n / (Number(consumed.last - consumed.first) / 1e9);
  }

  async function consumeRaw(n: number): Promise<number> {
    const own = await connect(URL); // its own connection, as the transport's consumer has
    const ch: Channel = await own.createChannel();
    await ch.prefetch(PREFETCH);
    let count = 0;
    let first = 0n;
    let last = 0n;
    let finish!: () => void;
    const all = new Promise<void>((r) => (finish = r));
    const { consumerTag } = await ch.consume(conQueue, (msg) => {
      if (!msg) return;
      if (count === 0) first = process.hrtime.bigint();
      ch.ack(msg);
      if (++count === n) {
        last = process.hrtime.bigint();
        finish();
      }
    });
    await all;
    await ch.cancel(consumerTag);
    await own.close();
    return n / (Number(last - first) / 1e9);
  }

  await admin.assertQueue(conQueue, { durable: true }); // the same arguments the transport declares
  await admin.bindQueue(conQueue, exchange, 'BenchConsumed');

  console.log(`RabbitMQ bench (${URL.replace(/:[^:@/]*@/, ':***@')}), ${ROUNDS} rounds, medians\n`);
  await publishScenario(`publish, confirms, window ${WINDOW} (N=${PUBLISH_N})`, PUBLISH_N, WINDOW);
  await publishScenario(`publish, confirms, sequential (N=${SEQUENTIAL_N})`, SEQUENTIAL_N, 1);

  const ours: number[] = [];
  const theirs: number[] = [];
  await fill(500);
  await consumeRaw(500); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of r % 2 ? ['raw', 'ours'] : ['ours', 'raw']) {
      await fill(CONSUME_N);
      await new Promise((r) => setTimeout(r, 300)); // let the broker settle the writes before the clock starts
      (side === 'ours' ? ours : theirs).push(
        side === 'ours' ? await consumeOurs(CONSUME_N) : await consumeRaw(CONSUME_N),
      );
    }
  }
  report(`consume, ack, prefetch ${PREFETCH} (N=${CONSUME_N})`, ours, theirs);

  const levels = retryDelayLevels(publisher.get<ResolvedMessagingOptions>(MESSAGING_OPTIONS).retry);
  await publisher.close();
  for (const q of [pubQueue, conQueue, `${prefix}.dead-letter`, `${prefix}.dead-letter.lock`])
    await admin.deleteQueue(q);
  for (const ms of levels) await admin.deleteQueue(`${prefix}.retry.${ms}ms`);
  await admin.deleteExchange(`${prefix}.retry`);
  await admin.deleteExchange(exchange);
  await conn.close();
}

function report(label: string, ours: number[], theirs: number[]): void {
  const a = median(ours);
  const b = median(theirs);
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US').padStart(8);
  if (process.env.BENCH_VERBOSE) {
    console.log(`  rounds transport ${ours.map(Math.round).join(' ')} / amqplib ${theirs.map(Math.round).join(' ')}`);
  }
  console.log(`${label.padEnd(48)} ours ${fmt(a)} msg/s   amqplib ${fmt(b)} msg/s   ratio ${(a / b).toFixed(2)}x`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
