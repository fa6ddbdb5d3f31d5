import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { decodeEnvelope } from '../../lib/message/cloudevents.codec';
import { TEST_DATABASE_URL } from '../setup/services';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';

const tables = uniqueTables('tcr');
let ds: DataSource;

beforeAll(async () => {
  ds = await pgDataSource(tables);
});
afterAll(async () => {
  await dropAll(ds, tables);
});

function runChild(
  env: Record<string, string>,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(__dirname, 'helpers', 'crash.child.ts')],
      {
        cwd: join(__dirname, '..', '..'),
        env: {
          ...process.env,
          DB_URL: TEST_DATABASE_URL,
          OUTBOX: tables.outboxTable,
          INBOX: tables.inboxTable,
          ORDERS: tables.ordersTable,
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

function feature(transport: FakeTransport): OutboxFeature {
  return new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, pollIntervalMs: 20 },
    ds,
    transport,
    testLogger(),
  );
}

describe('crashes (child process killed with SIGKILL)', () => {
  it('commit, then crash before the relay ran: a fresh relay delivers the event', async () => {
    const result = await runChild({ MODE: 'commit-then-die', ORDER_ID: 'crash-1' });
    expect(result).toMatchObject({ signal: 'SIGKILL' });
    expect(await ds.query(`SELECT id FROM "${tables.ordersTable}" WHERE id = 'crash-1'`)).toHaveLength(1);
    const pending = await ds.query(`SELECT status FROM "${tables.outboxTable}"`);
    expect(pending).toEqual([{ status: 'pending' }]);
    const transport = new FakeTransport();
    const fresh = feature(transport);
    await fresh.start();
    try {
      await transport.waitFor(1, 5000);
    } finally {
      await fresh.stop();
    }
    expect(transport.published[0].envelope).toMatchObject({ type: 'OrderCreated', data: { orderId: 'crash-1' } });
  }, 30_000);

  it('publish confirmed, then crash before marking sent: delivered again, and the inbox absorbs it (one effect)', async () => {
    await ds.query(`DELETE FROM "${tables.outboxTable}"`);
    const dir = mkdtempSync(join(tmpdir(), 'outbox-crash-'));
    const brokerFile = join(dir, 'broker.log');
    // a committed event waiting for the relay
    const writer = feature(new FakeTransport());
    await writer.transactions.run(async (manager) => {
      await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('crash-2')`);
      await writer.publisher.publish([outbound('OrderPaid', { orderId: 'crash-2' })], {});
    });
    const result = await runChild({ MODE: 'publish-then-die', BROKER_FILE: brokerFile });
    expect(result.signal).toBe('SIGKILL');
    expect(existsSync(brokerFile)).toBe(true);
    const firstCopies = readFileSync(brokerFile, 'utf8').trim().split('\n');
    expect(firstCopies).toHaveLength(1);
    expect(await ds.query(`SELECT status FROM "${tables.outboxTable}"`)).toEqual([{ status: 'pending' }]);

    const transport = new FakeTransport();
    const fresh = feature(transport);
    await fresh.start();
    try {
      await transport.waitFor(1, 5000);
    } finally {
      await fresh.stop();
    }
    // the subscriber receives both copies; the inbox lets exactly one take effect
    const deliveries = [firstCopies[0], transport.published[0].body].map((body) => decodeEnvelope(body));
    expect(deliveries[0].id).toBe(deliveries[1].id);
    let effects = 0;
    const outcomes: boolean[] = [];
    for (const envelope of deliveries) {
      outcomes.push(
        await fresh.unitOfWork!.run(envelope, 'Billing.onOrderPaid', async (tx) => {
          await (tx as DataSource['manager']).query(
            `UPDATE "${tables.ordersTable}" SET note = coalesce(note, '') || 'paid;' WHERE id = $1`,
            ['crash-2'],
          );
          effects++;
        }),
      );
    }
    expect(outcomes).toEqual([true, false]);
    expect(effects).toBe(1);
    expect(await ds.query(`SELECT note FROM "${tables.ordersTable}" WHERE id = 'crash-2'`)).toEqual([
      { note: 'paid;' },
    ]);
  }, 30_000);
});
