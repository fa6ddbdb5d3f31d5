/**
 * The outbox relay and `remote.endpoints`: a stored routed command is published to the queue
 * prefix stored with it (decided in the caller's transaction), and while that queue does not exist
 * the relay's warning names the endpoint and its prefix.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { UnroutableMessageError } from '../../lib/transport/rabbitmq/errors/unroutable-message.error';
import { FakeTransport } from '../outbox/helpers/fake.transport';
import {
  dropAll,
  eventually,
  outbound,
  sqliteDataSource,
  testLogger,
  uniqueTables,
} from '../outbox/helpers/outbox-test.db';

const tables = uniqueTables('rer');
let ds: DataSource;

beforeAll(async () => {
  ds = await sqliteDataSource(tables, join(mkdtempSync(join(tmpdir(), 'endpoints-relay-')), 'app.db'));
});
afterAll(async () => {
  await dropAll(ds, tables);
});

describe('the outbox relay with remote.endpoints', () => {
  it('publishes a stored routed command to its stored prefix, warning with both forms while its queue is missing', async () => {
    const transport = new FakeTransport();
    let missing = 2;
    transport.failWhen = (m) =>
      missing-- > 0 ? new UnroutableMessageError(m.envelope.id, '', `${m.endpoint}.commands`) : undefined;
    const logger = testLogger();
    const { outboxTable, inboxTable } = tables;
    const feature = new OutboxFeature(
      { outboxTable, inboxTable, pollIntervalMs: 20, maxAttempts: 1, backoff: { initialDelayMs: 10, maxDelayMs: 20 } },
      ds,
      transport,
      logger,
    );
    // written by a sender whose remote.endpoints map shipping to staging-shipping
    await feature.publisher.publish(
      [
        {
          ...outbound('shipping.Ship', { parcelId: 'p' }),
          destination: 'commands',
          endpoint: 'staging-shipping',
          endpointName: 'shipping',
        },
      ],
      {},
    );
    await feature.start();
    try {
      await eventually(() => transport.published.length === 1, 10_000, 'the row published');
    } finally {
      await feature.stop();
    }
    expect(transport.published[0]).toMatchObject({
      endpoint: 'staging-shipping',
      endpointName: 'shipping',
      destination: 'commands',
    });
    const waits = logger.lines.filter((l) => l.includes('waits for service'));
    // past maxAttempts: a missing queue of a routed command is waited for, not given up
    expect(waits.length).toBe(2);
    expect(waits[0]).toContain('waits for service "shipping" (queue prefix "staging-shipping")');
  });
});
