/**
 * `remote.endpoints` over RabbitMQ with the PostgreSQL outbox: the receiver runs with the queue
 * prefix of a staging deployment (`<run>-staging-shipping`) while the contract routes to
 * `<run>-shipping`. A routed command written to the outbox before the sender knew the map is
 * delivered to the staging queue once a relay with the map publishes it; queries follow the map.
 */
import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  Command,
  CommandBus,
  CommandHandler,
  Message,
  MessageContext,
  NoResponderError,
  Query,
  QueryBus,
  QueryHandler,
  createMessagingEntities,
  type MessagingModuleOptions,
} from '../../lib';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { cleanup, runId, waitFor } from '../rabbitmq/rabbitmq-test.helpers';
import { uniqueTables } from '../outbox/helpers/outbox-test.db';
import { startService } from './remote-scenario';

@Message('endpoints.amqp.Ship')
class Ship extends Command<void> {
  constructor(readonly parcelId: string) {
    super();
  }
}

@Message('endpoints.amqp.Count')
class Count extends Query<number> {
  constructor(readonly prefix: string) {
    super();
  }
}

const shipped: Array<{ parcelId: string; subscriber?: string }> = [];

@CommandHandler(Ship)
class ShipHandler {
  constructor(private readonly ctx: MessageContext) {}
  execute(command: Ship): void {
    shipped.push({ parcelId: command.parcelId, subscriber: this.ctx.subscriber });
  }
}

@QueryHandler(Count)
class CountHandler {
  execute(query: Count): number {
    return shipped.filter((s) => s.parcelId.startsWith(query.prefix)).length;
  }
}

const run = runId();
const SHIPPING = `${run}-shipping`;
const STAGING = `${run}-staging-shipping`;
const GONE = `${run}-gone`;
const exchange = `${run}.events`;
const { outboxTable, inboxTable } = uniqueTables('rep');
const tables = { outboxTable, inboxTable };
const routes = { [SHIPPING]: [Ship, Count], [GONE]: ['endpoints.amqp.Gone'] };

function sender(remote: MessagingModuleOptions['remote'], relay: boolean): MessagingModuleOptions {
  return {
    serviceName: `${run}-orders`,
    transport: 'rabbitmq',
    rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
    outbox: { ...tables, pollIntervalMs: 20, relay },
    remote,
  };
}

const pg = () =>
  TypeOrmModule.forRoot({
    type: 'postgres',
    url: TEST_DATABASE_URL,
    entities: createMessagingEntities({ database: 'postgres', ...tables }),
    synchronize: true,
    poolSize: 4,
  });

describe('remote.endpoints over RabbitMQ: a contract endpoint sent to a prefixed deployment', () => {
  const apps: TestingModule[] = [];
  let orders: TestingModule;

  beforeAll(async () => {
    // the receiver: named "<run>-shipping" but deployed under the staging prefix; it knows no map
    // and takes the routes of its own serviceName as its own
    const shipping = await startService(
      {
        serviceName: SHIPPING,
        transport: 'rabbitmq',
        rabbitmq: { url: TEST_AMQP_URL, exchange, queuePrefix: STAGING, reconnectDelayMs: 200 },
        remote: { routes },
      },
      [ShipHandler, CountHandler],
    );
    apps.push(shipping);
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    // a fresh connection: the apps that created the tables may have failed or be closed
    const ds = await new DataSource({ type: 'postgres', url: TEST_DATABASE_URL }).initialize();
    await ds.query(`DROP TABLE IF EXISTS "${outboxTable}", "${inboxTable}"`).finally(() => ds.destroy());
    await cleanup(run, [], [exchange]);
  });

  it('delivers a command to the staging queue its sender chose, even when an instance without the map relays it', async () => {
    // a sender with the map (its relay off): the row keeps the prefix decided in its transaction
    const writer = await startService(
      sender({ routes, endpoints: { [SHIPPING]: STAGING, [GONE]: `${run}-nowhere` } }, false),
      [],
      [pg()],
    );
    apps.push(writer);
    await writer.get(CommandBus).execute(new Ship(`${run}-before`));
    const [row] = await writer
      .get(DataSource)
      .query(`SELECT headers, status FROM "${outboxTable}" WHERE payload LIKE $1`, [`%${run}-before%`]);
    expect(JSON.parse(row.headers as string)).toEqual({ endpoint: STAGING, endpointName: SHIPPING });
    expect(row.status).toBe('pending');
    await writer.close();
    apps.pop();

    // an instance whose configuration lacks the map (a lagging pod, a rollback) relays the row: it
    // goes where its sender decided, not to "${SHIPPING}.commands"
    const lagging = await startService(sender({ routes }, true), [], [pg()]);
    apps.push(lagging);
    await waitFor(() => shipped.some((s) => s.parcelId === `${run}-before`), 'the row delivered to staging');
    await lagging.close();
    apps.pop();

    orders = await startService(
      sender({ routes, endpoints: { [SHIPPING]: STAGING, [GONE]: `${run}-nowhere` } }, true),
      [],
      [pg()],
    );
    apps.push(orders);
    await orders.get(CommandBus).execute(new Ship(`${run}-after`));
    await waitFor(() => shipped.some((s) => s.parcelId === `${run}-after`), 'a new command delivered to staging');
    expect(shipped.map((s) => s.subscriber)).toEqual(['commands', 'commands']);
  });

  it('asks a query of the staging prefix, and names both forms when nobody answers', async () => {
    const queries = orders.get(QueryBus);
    await expect(queries.execute(new Count(run), { timeoutMs: 5_000 })).resolves.toBe(2);
    const none = await queries.execute({ type: 'endpoints.amqp.Gone' }, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(NoResponderError);
    expect((none as Error).message).toContain(`service "${GONE}" (queue prefix "${run}-nowhere")`);
  });
});
