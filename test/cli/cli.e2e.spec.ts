import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { EventBus, Message, Subscribe } from '../../lib';
import { createTablesSql, dropTablesSql } from '../../lib/outbox/outbox.ddl';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { cleanup, runId } from '../rabbitmq/rabbitmq-test.helpers';
import { compileMonitoredModule, waitUntil } from '../monitoring/monitoring-app.helper';
import { MessagingMonitor } from '../../lib/monitoring/messaging-monitor.service';
import { runCliProcess } from './cli-runner';

@Message('CliPaymentRequested')
class PaymentRequested {
  constructor(readonly n: number) {}
}
@Message('CliBulkImported')
class BulkImported {
  constructor(readonly n: number) {}
}

const state = { failing: true, payments: 0, audit: 0, bulk: 0 };

@Injectable()
class Subscribers {
  @Subscribe(PaymentRequested, { name: 'payments', retry: { maxRetries: 0 } })
  onPayment() {
    if (state.failing) throw new RangeError('card declined');
    state.payments++;
  }

  @Subscribe(PaymentRequested, { name: 'audit', retry: { maxRetries: 0 } })
  onAudit() {
    state.audit++;
    if (state.audit === 1) throw new TypeError('audit store down');
  }

  @Subscribe(BulkImported, { name: 'bulk', retry: { maxRetries: 0 }, concurrency: 50 })
  onBulk() {
    if (state.failing) throw new SyntaxError('bad row');
    state.bulk++;
  }
}

const run = runId();
const service = `cli-${run}`;
const exchange = `${run}.events`;
const BULK = 130;

describe('nestjs-messaging CLI end to end (RabbitMQ, PostgreSQL)', () => {
  let moduleRef: TestingModule;
  const env = {
    MESSAGING_SERVICE_NAME: service,
    MESSAGING_TRANSPORT: 'rabbitmq',
    MESSAGING_AMQP_URL: TEST_AMQP_URL,
    MESSAGING_AMQP_EXCHANGE: exchange,
  };
  const password = new URL(TEST_AMQP_URL).password;
  const noSecret = (text: string) => {
    if (password.length >= 3) expect(text).not.toContain(`:${password}@`);
  };

  beforeAll(async () => {
    moduleRef = await compileMonitoredModule([Subscribers], {
      serviceName: service,
      transport: 'rabbitmq',
      rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
    });
    await moduleRef.init();
    const bus = moduleRef.get(EventBus);
    for (let i = 0; i < 3; i++) await bus.publish(new PaymentRequested(i));
    for (let i = 0; i < BULK; i++) await bus.publish(new BulkImported(i));
    const monitor = moduleRef.get(MessagingMonitor);
    await waitUntil(
      async () => (await monitor.snapshot()).deadLetterQueue.depth === 3 + 1 + BULK,
      'dead letters',
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    await moduleRef?.close();
    await cleanup(run, [], [exchange, `${service}.retry`]);
  });

  it('dlq list groups the dead letters by subscriber and error', async () => {
    const json = await runCliProcess(['dlq', 'list', '--json'], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.total).toBe(3 + 1 + BULK);
    const summary = report.groups.map(
      (g: { subscriber: string; errorName: string; count: number }) => `${g.subscriber}/${g.errorName}=${g.count}`,
    );
    expect(summary).toEqual([`bulk/SyntaxError=${BULK}`, 'payments/RangeError=3', 'audit/TypeError=1']);

    const text = await runCliProcess(['dlq', 'list', '--subscriber', 'payments'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`3 dead letter(s) of service "${service}" in 1 group(s)`);
    expect(text.stdout).toMatch(/payments\s+RangeError\s+3/);
    expect(text.stdout).toContain('last error: card declined');
    expect(text.stdout).toContain('CliPaymentRequested×3');
    noSecret(text.stdout + text.stderr);
  }, 60_000);

  it('dlq show prints one message with its headers, by dead-letter or message id; 3 when unknown', async () => {
    const { groups } = JSON.parse((await runCliProcess(['dlq', 'list', '--json', '--error', 'TypeError'], env)).stdout);
    const id = groups[0].ids[0];
    const shown = await runCliProcess(['dlq', 'show', id], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`dead-letter id: ${id}`);
    expect(shown.stdout).toContain('subscriber:     audit');
    expect(shown.stdout).toContain('error:          TypeError: audit store down');
    expect(shown.stdout).toMatch(/correlationid:\s+\S+/);
    expect(shown.stdout).toContain(`source:         ${service}`);
    expect(shown.stdout).toContain('"type": "CliPaymentRequested"');

    const asJson = JSON.parse((await runCliProcess(['dlq', 'show', id, '--json'], env)).stdout);
    const byMessageId = await runCliProcess(['dlq', 'show', asJson.messageId], env);
    expect(byMessageId.code).toBe(0); // the event failed in two subscribers: either dead letter matches
    expect(byMessageId.stdout).toContain(`message id:     ${asJson.messageId}`);

    const missing = await runCliProcess(['dlq', 'show', 'no-such-id'], env);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no dead letter with id no-such-id');
  }, 60_000);

  it('dlq replay delivers to the failed subscriber only, with progress for long operations', async () => {
    state.failing = false;
    const usage = await runCliProcess(['dlq', 'replay'], env);
    expect(usage.code).toBe(2);

    const auditBefore = state.audit;
    const payments = await runCliProcess(['dlq', 'replay', '--subscriber', 'payments', '--error', 'RangeError'], env);
    expect(payments.code).toBe(0);
    expect(payments.stdout).toContain('replayed 3 dead letter(s)');
    await waitUntil(() => state.payments === 3, 'payments replayed');

    const bulk = await runCliProcess(['dlq', 'replay', '--subscriber', 'bulk'], env);
    expect(bulk.code).toBe(0);
    expect(bulk.stderr).toContain(`replayed 100/${BULK}`);
    expect(bulk.stderr).toContain(`replayed ${BULK}/${BULK} (100%)`);
    await waitUntil(() => state.bulk === BULK, 'bulk replayed', 20_000);
    expect(state.audit).toBe(auditBefore); // the other subscriber of the type got nothing

    const left = JSON.parse((await runCliProcess(['dlq', 'list', '--json'], env)).stdout);
    expect(left.total).toBe(1);
    expect(left.groups[0]).toMatchObject({ subscriber: 'audit', count: 1 });
  }, 90_000);

  it('dlq purge refuses without --yes when not on a terminal, then empties the queue', async () => {
    const refused = await runCliProcess(['dlq', 'purge', '--all'], env);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('refusing to purge 1 dead letter(s) without --yes');
    expect(JSON.parse((await runCliProcess(['dlq', 'list', '--json'], env)).stdout).total).toBe(1);

    const purged = await runCliProcess(['dlq', 'purge', '--all', '--yes'], env);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain('purged 1 dead letter(s)');
    const after = await runCliProcess(['dlq', 'list'], env);
    expect(after.stdout).toContain('0 dead letter(s)');
    expect(
      await moduleRef
        .get(MessagingMonitor)
        .snapshot()
        .then((s) => s.deadLetterQueue.depth),
    ).toBe(0);
  }, 60_000);

  it('fails with code 1 and no password when the broker is unreachable; 2 on bad configuration', async () => {
    const unreachable = await runCliProcess(['dlq', 'list'], {
      ...env,
      MESSAGING_AMQP_URL: 'amqp://ops:S3cretPass@127.0.0.1:1',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout + unreachable.stderr).not.toContain('S3cretPass');
    const memory = await runCliProcess(['dlq', 'list'], { ...env, MESSAGING_TRANSPORT: 'memory' });
    expect(memory.code).toBe(2);
    const noService = await runCliProcess(['dlq', 'list'], { MESSAGING_TRANSPORT: 'rabbitmq' });
    expect(noService.code).toBe(2);
    expect(noService.stderr).toContain('MESSAGING_SERVICE_NAME');
    const noUrl = await runCliProcess(['dlq', 'list'], {
      MESSAGING_SERVICE_NAME: 'x',
      MESSAGING_TRANSPORT: 'rabbitmq',
    });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/^nestjs-messaging configuration: transport "rabbitmq" needs rabbitmq.url/);
  }, 60_000);

  it('names the virtual host the broker refused, at once and without the password', async () => {
    const url = new URL(TEST_AMQP_URL);
    url.pathname = `/${run}-no-such-vhost`;
    const started = Date.now();
    const refused = await runCliProcess(['dlq', 'list'], { ...env, MESSAGING_AMQP_URL: url.toString() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`refused to open virtual host "${run}-no-such-vhost"`);
    expect(refused.stderr).not.toContain(`:${url.password}@`);
    expect(Date.now() - started).toBeLessThan(9_000); // not the 10 s connect timeout: no retrying
  }, 60_000);

  it('reads .env from the working directory and --env-file, the real environment winning', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-env-'));
    try {
      fs.writeFileSync(path.join(cwd, '.env'), 'MESSAGING_SERVICE_NAME=from-dotenv\nMESSAGING_TRANSPORT=memory\n');
      // the memory transport is refused with code 2: proof that .env was read
      const fromDotenv = await runCliProcess(['dlq', 'list'], {}, 60_000, cwd);
      expect([fromDotenv.code, fromDotenv.stderr]).toEqual([2, expect.stringContaining('memory transport')]);
      // the real environment wins over the file
      const overridden = await runCliProcess(['dlq', 'list'], { MESSAGING_TRANSPORT: 'rabbitmq' }, 60_000, cwd);
      expect(overridden.stderr).toContain('needs rabbitmq.url');
      fs.writeFileSync(path.join(cwd, 'ops.env'), `MESSAGING_SERVICE_NAME=${run}-cli\nMESSAGING_TRANSPORT=kafka\n`);
      const fromFile = await runCliProcess(['dlq', 'list', '--env-file', 'ops.env'], {}, 60_000, cwd);
      expect([fromFile.code, fromFile.stderr]).toEqual([2, expect.stringContaining('MESSAGING_TRANSPORT must be')]);
      // a missing file fails, naming it (Node 20 itself reads --env-file wherever it stands and
      // exits with code 9 first; later Node versions leave it to the CLI, which exits with 2)
      const missing = await runCliProcess(['dlq', 'list', '--env-file=nope.env'], {}, 60_000, cwd);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('nope.env');
      expect(missing.stdout).toBe('');
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('nestjs-messaging outbox stats (PostgreSQL)', () => {
  const table = `cli_outbox_${run.replace(/[^a-z0-9]/g, '')}`;
  const inbox = `cli_inbox_${run.replace(/[^a-z0-9]/g, '')}`;
  const client = new Client({ connectionString: TEST_DATABASE_URL });

  beforeAll(async () => {
    await client.connect();
    for (const sql of createTablesSql('postgres', table, inbox)) await client.query(sql);
    const insert = (status: string, availableSql: string, type = 'OrderPlaced', error: string | null = null) =>
      client.query(
        `INSERT INTO "${table}" (message_id, type, payload, status, available_at, created_at, last_error, sent_at) ` +
          `VALUES ($1, $2, '{}', $3, ${availableSql}, now() - interval '40 seconds', $4, ${status === 'sent' ? 'now()' : 'NULL'})`,
        [`m-${Math.random()}`, type, status, error],
      );
    await insert('pending', `now() - interval '30 seconds'`);
    await insert('pending', `now() - interval '5 seconds'`);
    await insert('pending', `now() + interval '1 hour'`);
    await insert('pending', `now() + interval '2 hours'`);
    await insert('failed', 'now()', 'PaymentTaken', 'broker said no');
    await insert('failed', 'now()', 'PaymentTaken', 'broker said no');
    await insert('sent', 'now()');
  });

  afterAll(async () => {
    for (const sql of dropTablesSql('postgres', table, inbox)) await client.query(sql).catch(() => undefined);
    await client.end();
  });

  it('reports pending, due, failed, sent and the outbox lag from the table', async () => {
    const res = await runCliProcess(['outbox', 'stats', '--json'], {
      DATABASE_URL: TEST_DATABASE_URL,
      MESSAGING_OUTBOX_TABLE: table,
    });
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report).toMatchObject({ table, pending: 4, due: 2, failed: 2, sent: 1 });
    expect(report.oldestDueAgeMs).toBeGreaterThanOrEqual(30_000);
    expect(report.oldestDueAgeMs).toBeLessThan(60_000);
    expect(report.oldestPendingAgeMs).toBeGreaterThanOrEqual(40_000);
    expect(report.failedByType).toEqual([{ type: 'PaymentTaken', count: 2, lastError: 'broker said no' }]);

    const text = await runCliProcess(['outbox', 'stats'], {
      DATABASE_URL: TEST_DATABASE_URL,
      MESSAGING_OUTBOX_TABLE: table,
    });
    expect(text.stdout).toContain('pending:             4 (2 due)');
  }, 60_000);

  it('validates the table name, needs DATABASE_URL, and reports a missing table', async () => {
    const bad = await runCliProcess(['outbox', 'stats'], {
      DATABASE_URL: TEST_DATABASE_URL,
      MESSAGING_OUTBOX_TABLE: 'x; drop table y',
    });
    expect(bad.code).toBe(2);
    expect((await runCliProcess(['outbox', 'stats'], {})).code).toBe(2);
    const missing = await runCliProcess(['outbox', 'stats'], {
      DATABASE_URL: TEST_DATABASE_URL,
      MESSAGING_OUTBOX_TABLE: `${table}_none`,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
  }, 60_000);
});
