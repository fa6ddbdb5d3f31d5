/**
 * One process of the chaos suite (forked with IPC by chaos-suite.ts, `-r ts-node/register/transpile-only`).
 * ROLE=producer: writes orders, each as a business row plus its OrderPlaced event in one
 *   transaction (MessagingTransactions.run), runs the outbox relay. Some transactions roll back
 *   after publishing, some lose their connection mid-way (phantom-event probes), some write the
 *   same message id twice (a duplicate publish).
 *   Each order also sends the routed command ChaosShip (in the same transaction, through the outbox)
 *   to the consumer's service, and after its transaction asks the routed query ChaosCount of it
 *   (3 s timeout), counting the calls asked and settled (resolved or failed with a typed error).
 * ROLE=consumer: two subscribers with the PostgreSQL inbox, each writing one effect row per order,
 *   and the routed command's handler writing a third (`command`) in its inbox transaction.
 *   `billing` fails for "poison" orders until healed (dead-letters, then replayed); `shipping`
 *   hangs on the first attempt of "hang" orders (abandoned after its timeout).
 * The two are two services (`chaos-<run>-orders` sends, `chaos-<run>` receives), each with its own
 * outbox table and relay (the consumer's holds its retries).
 * Messages from the orchestrator: { produce: { prefix, from, count, intervalMs } }, { replay: true },
 * { queryStats: true }, { exit: true }. To it: { ready }, { produced: n }, { replayed: n },
 * { queryStats: { asked, settled, outcomes } }, { error }.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import {
  CommandBus,
  CommandHandler,
  DeadLetterAdmin,
  EventBus,
  QueryBus,
  QueryHandler,
  MessageContext,
  MessagingModule,
  MessagingTransactions,
  Subscribe,
  createMessagingEntities,
} from '../../lib';
import { isConnectionLoss, isDuplicate, isHang, isPoison, isRollback } from './chaos-keys';

const env = process.env as Record<string, string>;
const { ROLE, DB_URL, AMQP_URL, RUN } = env;
const T = { orders: `chaos_orders_${RUN}`, effects: `chaos_effects_${RUN}`, healed: `chaos_healed_${RUN}` };
const PRODUCER = ROLE === 'producer';
/** Each service its own outbox (and relay); the consumer's inbox is `chaos_inbox_<run>`. */
const outboxTables = PRODUCER
  ? { outboxTable: `chaos_outbox_${RUN}`, inboxTable: `chaos_inbox_p_${RUN}` }
  : { outboxTable: `chaos_outbox_c_${RUN}`, inboxTable: `chaos_inbox_${RUN}` };
/** The receiving service of the routed command and query. */
const RECEIVER = `chaos-${RUN}`;
const QUERY_TIMEOUT_MS = 3_000;
const HANDLER_TIMEOUT_MS = 800;
const send = (message: object) => process.send?.(message);

interface OrderPlaced {
  orderId: string;
}

@Injectable()
class Effects {
  constructor(
    private readonly ctx: MessageContext,
    private readonly dataSource: DataSource,
  ) {}

  private write(orderId: string, subscriber: string): Promise<unknown> {
    return (this.ctx.manager as EntityManager).query(
      `INSERT INTO ${T.effects} (order_id, subscriber) VALUES ($1, $2)`,
      [orderId, subscriber],
    );
  }

  @Subscribe('OrderPlaced', { name: 'billing', retry: { maxRetries: 2, initialDelayMs: 100, jitter: 0 } })
  async billing(event: OrderPlaced): Promise<void> {
    if (isPoison(event.orderId)) {
      const healed = await this.dataSource.query(`SELECT 1 FROM ${T.healed}`);
      if (healed.length === 0) throw new Error(`billing rejects ${event.orderId} (poison)`);
    }
    await this.write(event.orderId, 'billing');
  }

  @Subscribe('OrderPlaced', {
    name: 'shipping',
    timeoutMs: HANDLER_TIMEOUT_MS,
    retry: { maxRetries: 3, initialDelayMs: 100, jitter: 0 },
  })
  async shipping(event: OrderPlaced): Promise<void> {
    await this.write(event.orderId, 'shipping');
    // hangs holding its transaction on the first attempt: abandoned after the timeout, retried
    if (isHang(event.orderId) && this.ctx.attempt === 1) await new Promise(() => undefined);
  }
}

/** The routed command's handler (the consumer's `commands` queue, inbox transaction). */
@CommandHandler('ChaosShip')
class ShipCommandHandler {
  constructor(private readonly ctx: MessageContext) {}

  async execute(command: OrderPlaced): Promise<void> {
    await (this.ctx.manager as EntityManager).query(`INSERT INTO ${T.effects} (order_id, subscriber) VALUES ($1, $2)`, [
      command.orderId,
      'command',
    ]);
  }
}

/** The routed query's handler: how many effects the order has so far. */
@QueryHandler('ChaosCount')
class CountQueryHandler {
  constructor(private readonly dataSource: DataSource) {}

  async execute(query: OrderPlaced): Promise<number> {
    const rows = await this.dataSource.query(`SELECT count(*)::int AS n FROM ${T.effects} WHERE order_id = $1`, [
      query.orderId,
    ]);
    return rows[0].n as number;
  }
}

/** Routed queries the producer asked, and how each ended. */
const queryStats = { asked: 0, settled: 0, outcomes: {} as Record<string, number> };

function ask(queries: QueryBus, orderId: string): void {
  queryStats.asked++;
  const settle = (outcome: string) => {
    queryStats.settled++;
    queryStats.outcomes[outcome] = (queryStats.outcomes[outcome] ?? 0) + 1;
  };
  queries.execute<number>({ type: 'ChaosCount', orderId }, { timeoutMs: QUERY_TIMEOUT_MS }).then(
    () => settle('answered'),
    (error: Error) => settle(error?.name ?? 'Error'),
  );
}

const orm = TypeOrmModule.forRoot({
  type: 'postgres',
  url: DB_URL,
  applicationName: `chaos_${RUN}_${ROLE}`,
  // the consumer runs three inbox subscribers (billing, shipping, routed commands), its relay and the query handler
  poolSize: PRODUCER ? 6 : 10,
  entities: createMessagingEntities({ database: 'postgres', ...outboxTables }),
});

const messaging = MessagingModule.forRoot({
  serviceName: PRODUCER ? `chaos-${RUN}-orders` : RECEIVER,
  transport: 'rabbitmq',
  rabbitmq: { url: AMQP_URL, exchange: `chaos.${RUN}.events`, reconnectDelayMs: 300, publishConfirmTimeoutMs: 5_000 },
  outbox: { ...outboxTables, pollIntervalMs: 200 },
  remote: { routes: { [RECEIVER]: ['ChaosShip', 'ChaosCount'] } },
  handlerTimeoutMs: HANDLER_TIMEOUT_MS * 2,
  shutdownTimeoutMs: 3_000,
});

@Module({ imports: [orm, messaging], providers: PRODUCER ? [] : [Effects, ShipCommandHandler, CountQueryHandler] })
class AppModule {}

interface Buses {
  transactions: MessagingTransactions;
  events: EventBus;
  commands: CommandBus;
  queries: QueryBus;
}

async function produce(
  { transactions, events, commands, queries }: Buses,
  dataSource: DataSource,
  job: { prefix: string; from: number; count: number; intervalMs: number },
): Promise<void> {
  for (let n = job.from; n < job.from + job.count; n++) {
    const orderId = `${job.prefix}-${n}`;
    const started = Date.now();
    try {
      await transactions.run(async (manager: EntityManager) => {
        await manager.query(`INSERT INTO ${T.orders} (id) VALUES ($1)`, [orderId]);
        if (isConnectionLoss(orderId)) {
          // the connection under the transaction dies before the publish: nothing may be written
          const [{ pid }] = await manager.query('SELECT pg_backend_pid() AS pid');
          await dataSource.query('SELECT pg_terminate_backend($1)', [pid]);
          await manager.query('SELECT 1').catch(() => undefined);
        }
        // routed to the consumer's service: an outbox row in this transaction, like the event
        await commands.execute({ type: 'ChaosShip', orderId }, { partitionKey: orderId });
        await events.publish({ type: 'OrderPlaced', orderId }, { partitionKey: orderId });
        if (isDuplicate(orderId)) {
          // the same message id twice: a second outbox row copying the first
          await manager.query(
            `INSERT INTO ${outboxTables.outboxTable} (message_id, type, payload, headers, destination, partition_key, available_at) ` +
              `SELECT message_id, type, payload, headers, destination, NULL, available_at FROM ${outboxTables.outboxTable} ` +
              `WHERE message_id = (SELECT message_id FROM ${outboxTables.outboxTable} WHERE partition_key = $1 ORDER BY id DESC LIMIT 1)`,
            [orderId],
          );
        }
        if (isRollback(orderId)) throw new Error('rolled back on purpose');
      });
    } catch {
      // rolled back (on purpose, or a fault): no order, no event, no command
    }
    ask(queries, orderId);
    send({ produced: n });
    const wait = job.intervalMs - (Date.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  send({ done: true });
}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error'] });
  app.enableShutdownHooks();
  process.on('message', (message: Record<string, unknown>) => {
    if (message.produce) {
      const buses: Buses = {
        transactions: app.get(MessagingTransactions),
        events: app.get(EventBus),
        commands: app.get(CommandBus),
        queries: app.get(QueryBus),
      };
      produce(buses, app.get(DataSource), message.produce as Parameters<typeof produce>[2]).catch((error: Error) =>
        send({ error: error.message }),
      );
    }
    if (message.queryStats) {
      send({ queryStats: { ...queryStats, outcomes: { ...queryStats.outcomes } } });
    }
    if (message.replay) {
      app
        .get(DeadLetterAdmin)
        .replay({ subscriber: 'billing' })
        .then(
          (n) => send({ replayed: n }),
          (error: Error) => send({ error: `replay: ${error.message}` }),
        );
    }
    if (message.exit) void app.close().then(() => process.exit(0));
  });
  send({ ready: true });
}

main().catch((err: Error) => {
  process.stderr.write(`chaos ${ROLE} failed to start: ${err?.stack ?? err}\n`);
  process.exit(3);
});
