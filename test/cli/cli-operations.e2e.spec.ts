import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  createDeadLetterMigration,
  EventBus,
  Message,
  MessageContext,
  MessagingTransactions,
  Subscribe,
} from '../../lib';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { cleanup, runId } from '../rabbitmq/rabbitmq-test.helpers';
import { compileMonitoredModule, waitUntil } from '../monitoring/monitoring-app.helper';
import { dropAll, pgDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';
import { runCliProcess } from './cli-runner';

@Message('CliOpsParcel')
class ParcelBooked {
  constructor(readonly n: number) {}
}
@Message('CliOpsLabel')
class LabelPrinted {
  constructor(readonly n: number) {}
}

const state = { broken: true, booked: 0, labels: 0 };

@Injectable()
class Parcels {
  constructor(private readonly events: EventBus) {}

  @Subscribe(ParcelBooked, { name: 'parcels', retry: { maxRetries: 0 } })
  async onBooked(event: ParcelBooked) {
    if (state.broken) throw new RangeError(`no depot for parcel ${event.n}`);
    state.booked++;
    await this.events.publish(new LabelPrinted(event.n));
  }

  @Subscribe(ParcelBooked, { name: 'labels', retry: { maxRetries: 0 } })
  onLabel(event: ParcelBooked) {
    // a message with a terminal escape and a newline: printed as one harmless line
    if (event.n === 0) throw new TypeError('printer \u001b[31moffline\nnow');
    state.labels++;
  }
}

const run = runId();
const service = `cliops-${run}`;
const exchange = `${run}.events`;
const tables = uniqueTables('cliops');
const deadLetterTable = `cliops_dead_${run}`;

describe('CLI: dlq groups / retry --group / purge --group, trace (RabbitMQ, PostgreSQL)', () => {
  let moduleRef: TestingModule;
  let ds: DataSource;
  let correlationId = '';
  const env = {
    MESSAGING_SERVICE_NAME: service,
    MESSAGING_TRANSPORT: 'rabbitmq',
    MESSAGING_AMQP_URL: TEST_AMQP_URL,
    MESSAGING_AMQP_EXCHANGE: exchange,
    DATABASE_URL: TEST_DATABASE_URL,
    MESSAGING_OUTBOX_TABLE: tables.outboxTable,
    MESSAGING_INBOX_TABLE: tables.inboxTable,
    MESSAGING_DEAD_LETTER_TABLE: deadLetterTable,
    MESSAGING_OPERATOR: 'dana',
  };
  const secrets = [new URL(TEST_AMQP_URL).password, new URL(TEST_DATABASE_URL).password].filter((p) => p.length >= 3);
  const noSecret = (text: string) => secrets.forEach((s) => expect(text).not.toContain(`:${s}@`));
  const groupsNow = async () => JSON.parse((await runCliProcess(['dlq', 'groups', '--json'], env)).stdout);
  const status = async (subscriber: string) =>
    (await ds.query(`SELECT status, status_by FROM "${deadLetterTable}" WHERE subscriber = $1`, [
      subscriber,
    ])) as Array<{
      status: string;
      status_by: string | null;
    }>;

  beforeAll(async () => {
    ds = await pgDataSource(tables);
    const qr = ds.createQueryRunner();
    await new (createDeadLetterMigration(deadLetterTable))().up(qr).finally(() => qr.release());
    moduleRef = await compileMonitoredModule([Parcels], {
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
    });
    await moduleRef.init();
    await moduleRef.get(MessagingTransactions).run(async () => {
      correlationId = moduleRef.get(MessageContext).correlationId!;
      for (let n = 0; n < 3; n++) await moduleRef.get(EventBus).publish(new ParcelBooked(n));
    });
    await waitUntil(
      async () => Number((await ds.query(`SELECT count(*)::int AS n FROM "${deadLetterTable}"`))[0].n) === 4,
      'four dead letters recorded',
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    await moduleRef?.close();
    const qr = ds.createQueryRunner();
    await new (createDeadLetterMigration(deadLetterTable))().down(qr).finally(() => qr.release());
    await dropAll(ds, tables);
    await cleanup(run, [], [exchange, `${service}.retry`]);
  });

  it('dlq groups shows one group per cause, with the normalized message and the application frame', async () => {
    const report = await groupsNow();
    expect(report.total).toBe(4);
    expect(
      report.groups.map((g: { subscriber: string; normalizedMessage: string; count: number }) => [
        g.subscriber,
        g.normalizedMessage,
        g.count,
      ]),
    ).toEqual([
      ['parcels', 'no depot for parcel <n>', 3],
      ['labels', 'printer \u001b[<n>moffline now', 1],
    ]);
    const text = await runCliProcess(['dlq', 'groups'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`4 dead letter(s) of service "${service}" in 2 failure group(s)`);
    expect(text.stdout).toContain(`group ${report.groups[0].id}  3 × parcels  RangeError: no depot for parcel <n>`);
    expect(text.stdout).toContain('  at:    Parcels.onBooked (cli-operations.e2e.spec)\n'); // the key: no line
    expect(text.stdout).toMatch(
      /\(dead letter \S+ at Parcels\.onBooked \(test\/cli\/cli-operations\.e2e\.spec\.ts:\d+\)\)/,
    );
    // what came from the wire is printed through `printable`: no escape sequence, no line break inside a field
    expect(text.stdout).not.toContain('\u001b');
    expect(text.stdout).toContain('printer ?[<n>moffline now');
    expect(text.stdout).toMatch(/ {2}e\.g\.: {2}printer \?\[31moffline\?now \(dead letter /);
    noSecret(text.stdout + text.stderr);
  }, 60_000);

  it('dlq purge --group shows the token first, refuses a wrong one, purges with the right one and marks the record', async () => {
    const labels = (await groupsNow()).groups.find((g: { subscriber: string }) => g.subscriber === 'labels');
    const ask = await runCliProcess(['dlq', 'purge', '--group', labels.id], env);
    expect(ask.code).toBe(4);
    const token = /--token ([0-9a-f]{8})/.exec(ask.stderr)?.[1];
    expect(token).toBeDefined();
    const wrong = await runCliProcess(['dlq', 'purge', '--group', labels.id, '--token', '00000000'], env);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain('does not match');
    const purged = await runCliProcess(['dlq', 'purge', '--group', labels.id, '--token', token!], env);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain(`purged 1 dead letter(s) of group ${labels.id}`);
    expect(purged.stderr).toContain(`operator dana: purged failure group ${labels.id}`);
    expect(await status('labels')).toEqual([{ status: 'purged', status_by: 'dana' }]);
    expect((await runCliProcess(['dlq', 'purge', '--group', labels.id, '--token', token!], env)).code).toBe(3);
  }, 60_000);

  it('dlq retry --group sends the group back to the failed subscriber only; the records say replayed', async () => {
    state.broken = false;
    expect((await runCliProcess(['dlq', 'retry'], env)).code).toBe(2);
    const [parcels] = (await groupsNow()).groups;
    const retried = await runCliProcess(['dlq', 'retry', '--group', parcels.id], env);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain(`retried 3 dead letter(s) of group ${parcels.id}`);
    expect(retried.stderr).toContain(`operator dana: retried failure group ${parcels.id}`);
    await waitUntil(() => state.booked === 3, 'the parcels booked', 20_000);
    expect(state.labels).toBe(2); // the other subscriber of the type got nothing again
    expect((await groupsNow()).total).toBe(0);
    expect((await status('parcels')).map((r) => r.status)).toEqual(['replayed', 'replayed', 'replayed']);
    expect((await runCliProcess(['dlq', 'retry', '--group', parcels.id], env)).code).toBe(3);
  }, 60_000);

  it('trace prints the journey: who published what, who handled it, its dead letters, what it caused', async () => {
    const json = await runCliProcess(['trace', correlationId, '--json'], env);
    expect(json.code).toBe(0);
    const journey = JSON.parse(json.stdout);
    expect(journey.correlationId).toBe(correlationId);
    expect(journey.total).toBe(6); // 3 parcels, 3 labels
    const text = await runCliProcess(['trace', correlationId], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`journey of ${correlationId} (correlation id ${correlationId}): 6 message(s)`);
    expect(text.stdout).toMatch(new RegExp(`- CliOpsParcel \\S+ from ${service} at \\S+ \\[outbox sent`));
    expect(text.stdout).toContain(`handled by ${service}.parcels`);
    expect(text.stdout).toContain('DEAD LETTER');
    expect(text.stdout).toContain('RangeError: no depot for parcel 1');
    expect(text.stdout).toMatch(/\n {2}- CliOpsLabel /);
    noSecret(text.stdout + text.stderr);
    const unknown = await runCliProcess(['trace', 'no-such-id'], env);
    expect(unknown.code).toBe(3);
  }, 60_000);
});
