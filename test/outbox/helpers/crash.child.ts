/**
 * Child process for the crash tests (run with `node -r ts-node/register/transpile-only`).
 * MODE=commit-then-die: commits an order + its event, then SIGKILLs itself before any relay runs.
 * MODE=publish-then-die: runs a relay whose transport writes the message to BROKER_FILE (the
 *   broker has it) and SIGKILLs the process before the relay can mark the row sent.
 */
import { appendFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { OutboxFeature } from '../../../lib/outbox/outbox.feature';
import { FakeTransport } from './fake.transport';
import { outbound } from './outbox-test.db';

async function main(): Promise<void> {
  const { MODE, DB_URL, OUTBOX, INBOX, ORDERS, BROKER_FILE, ORDER_ID } = process.env as Record<string, string>;
  const ds = new DataSource({ type: 'postgres', url: DB_URL, poolSize: 3 });
  await ds.initialize();
  const transport = new FakeTransport();
  const silent = { log() {}, warn() {}, error() {} };
  if (MODE === 'commit-then-die') {
    const feature = new OutboxFeature({ outboxTable: OUTBOX, inboxTable: INBOX, relay: false }, ds, transport, silent);
    await feature.start();
    await feature.transactions.run(async (manager) => {
      await manager.query(`INSERT INTO "${ORDERS}" (id) VALUES ($1)`, [ORDER_ID]);
      await feature.publisher.publish([outbound('OrderCreated', { orderId: ORDER_ID })], {});
    });
    process.kill(process.pid, 'SIGKILL'); // the very next thing after commit
  } else if (MODE === 'publish-then-die') {
    transport.onPublish = (message) => {
      appendFileSync(BROKER_FILE, message.body + '\n'); // the broker confirmed it...
      process.kill(process.pid, 'SIGKILL'); // ...and we die before marking the row sent
    };
    const feature = new OutboxFeature(
      { outboxTable: OUTBOX, inboxTable: INBOX, pollIntervalMs: 20 },
      ds,
      transport,
      silent,
    );
    await feature.start();
  }
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  process.exit(1);
});
