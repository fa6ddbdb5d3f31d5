import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Channel, ChannelModel, GetMessage } from 'amqplib';
import { DataSource } from 'typeorm';
import { DeadLetterService, MessageContext, Subscribe, createMessagingEntities, type DeadLetter } from '../../lib';
import { RABBITMQ_HEADERS as H } from '../../lib/transport/rabbitmq/rabbitmq.naming';
import { TEST_DATABASE_URL } from '../setup/services';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';
import { TEST_AMQP_URL, cleanup, rawConnection, runId } from './rabbitmq-test.helpers';

// A foreign producer (a plain amqplib client) sends what the library must not believe or repair:
// forged internal headers, wrong content types, invalid UTF-8, and thousands of headers of its own
// on a message that ends in the dead-letter queue.

const run = runId();
const exchange = `${run}.events`;

const attempts: Record<string, number[]> = {};

@Injectable()
class Hostile {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe('Hostile', { name: 'failing', retry: { maxRetries: 2, initialDelayMs: 20, maxDelayMs: 20, jitter: 0 } })
  failing(event: { key: string }): void {
    (attempts[event.key] ??= []).push(this.ctx.attempt ?? -1);
    throw new Error(`always fails ${event.key}`);
  }
}

function cloudEvent(key: string): string {
  return JSON.stringify({
    specversion: '1.0',
    id: randomUUID(),
    type: 'Hostile',
    source: 'foreign-producer',
    datacontenttype: 'application/json',
    data: { key },
  });
}

describe.each([
  ['outbox off', false],
  ['PostgreSQL outbox on', true],
])('hostile input from a foreign amqplib producer (%s)', (_, outbox) => {
  const service = `${run}-${outbox ? 'ob' : 'plain'}`;
  const tables = { outboxTable: `hi_outbox_${run}_${outbox ? 1 : 0}`, inboxTable: `hi_inbox_${run}_${outbox ? 1 : 0}` };
  let app: TestingModule;
  let conn: ChannelModel;
  let ch: Channel;

  beforeAll(async () => {
    for (const key of Object.keys(attempts)) delete attempts[key];
    app = await startApp(
      [Hostile],
      {
        serviceName: service,
        transport: 'rabbitmq',
        rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
        ...(outbox ? { outbox: { ...tables, pollIntervalMs: 20 } } : {}),
      },
      outbox
        ? [
            TypeOrmModule.forRoot({
              type: 'postgres',
              url: TEST_DATABASE_URL,
              entities: createMessagingEntities({ database: 'postgres', ...tables }),
              synchronize: true,
            }),
          ]
        : [],
    );
    conn = await rawConnection();
    ch = await conn.createChannel();
  });

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    if (outbox) await app?.get(DataSource).query(`DROP TABLE IF EXISTS ${tables.outboxTable}, ${tables.inboxTable}`);
    await app?.close();
    await cleanup(service, [], outbox ? [exchange] : []);
  });

  const send = (body: Buffer | string, options: Record<string, unknown> = {}) =>
    ch.publish(exchange, 'Hostile', Buffer.isBuffer(body) ? body : Buffer.from(body), {
      contentType: 'application/cloudevents+json',
      persistent: true,
      ...options,
    });

  const deadLetter = async (match: (d: DeadLetter) => boolean): Promise<DeadLetter> => {
    const dlq = app.get(DeadLetterService);
    let found: DeadLetter | undefined;
    await waitFor(
      async () => {
        found = (await dlq.list()).find(match);
        return found !== undefined;
      },
      'the dead letter',
      15_000,
    );
    return found!;
  };

  it('a forged x-messaging-attempt is not believed: every retry still runs', async () => {
    send(cloudEvent('forged'), { headers: { [H.attempt]: 5, [H.firstFailureAt]: '2000-01-01T00:00:00.000Z' } });
    const letter = await deadLetter((d) => (d.envelope?.data as { key?: string })?.key === 'forged');
    expect(attempts.forged).toEqual([1, 2, 3]);
    expect(letter.attempts).toBe(3);
    expect(letter.firstFailureAt).not.toBe('2000-01-01T00:00:00.000Z');
  });

  it('a structured body sent as text/plain is dead-lettered with the reason, the handler never runs', async () => {
    send(cloudEvent('text-plain'), { contentType: 'text/plain' });
    const letter = await deadLetter((d) => d.body.includes('text-plain'));
    expect(letter.error.name).toBe('MalformedMessageError');
    expect(letter.error.message).toContain('content type "text/plain" is not accepted');
    expect(attempts['text-plain']).toBeUndefined();
  });

  it('bytes that are not UTF-8 are dead-lettered, never repaired into U+FFFD', async () => {
    const text = cloudEvent('bad-utf8');
    const at = text.indexOf('bad-utf8') + 'bad-utf8'.length;
    send(Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff]), Buffer.from(text.slice(at))]));
    const letter = await deadLetter((d) => d.body.includes('bad-utf8'));
    expect(letter.error.name).toBe('MalformedMessageError');
    expect(letter.error.message).toBe('Malformed message: body is not valid UTF-8');
    expect(Object.keys(attempts).filter((k) => k.startsWith('bad-utf8'))).toEqual([]);
  });

  it('a message with 3,000 headers of its own keeps 16 KiB of them in its dead letter and lists the rest', async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) headers[`h${String(i).padStart(4, '0')}`] = 'v'.repeat(8);
    send(cloudEvent('many-headers'), { headers });
    await deadLetter((d) => (d.envelope?.data as { key?: string })?.key === 'many-headers');
    // read the copy in the dead-letter queue itself, as an operator's tool would
    const copy = await findInQueue(ch, `${service}.dead-letter`, (m) => m.content.toString().includes('many-headers'));
    const h = copy.properties.headers ?? {};
    const carried = Object.keys(h).filter((k) => /^h\d{4}$/.test(k));
    expect(carried.length).toBeGreaterThan(500); // 16 KiB of ~16-byte headers
    expect(carried.length).toBeLessThan(3000);
    expect(h[H.attempts]).toBe(3);
    const dropped = String(h[H.headersDropped]);
    expect(dropped).toMatch(/^\d+ header\(s\), \d+ bytes: h\d{4}/);
    expect(Number(/^(\d+) header/.exec(dropped)![1]) + carried.length).toBe(3000);
  });
});

/** Gets messages from `queue` until `match`; every message is put back. */
async function findInQueue(ch: Channel, queue: string, match: (m: GetMessage) => boolean): Promise<GetMessage> {
  const seen: GetMessage[] = [];
  try {
    for (;;) {
      const m = await ch.get(queue, { noAck: false });
      if (m === false) throw new Error(`no matching message in ${queue}`);
      seen.push(m);
      if (match(m)) return m;
    }
  } finally {
    for (const m of seen) ch.nack(m, false, true);
  }
}
