/**
 * One process of the chaos suite (forked with IPC by chaos-suite.ts, `-r ts-node/register/transpile-only`).
 * ROLE=producer: writes orders, each as a business row plus its OrderPlaced event in one
 *   transaction (MessagingTransactions.run), runs the outbox relay. Some transactions roll back
 *   after publishing, some lose their connection mid-way (phantom-event probes), some write the
 *   same message id twice (a duplicate publish).
 * ROLE=consumer: two subscribers with the PostgreSQL inbox, each writing one effect row per order.
 *   `billing` fails for "poison" orders until healed (dead-letters, then replayed); `shipping`
 *   hangs on the first attempt of "hang" orders (abandoned after its timeout).
 * Messages from the orchestrator: { produce: { prefix, from, count, intervalMs } }, { replay: true },
 * { exit: true }. To it: { ready }, { produced: n }, { replayed: n }, { error }.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import {
  DeadLetterAdmin,
  EventBus,
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
const outboxTables = { outboxTable: `chaos_outbox_${RUN}`, inboxTable: `chaos_inbox_${RUN}` };
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

const orm = TypeOrmModule.forRoot({
  type: 'postgres',
  url: DB_URL,
  applicationName: `chaos_${RUN}_${ROLE}`,
  poolSize: 6,
  entities: createMessagingEntities({ database: 'postgres', ...outboxTables }),
});

const messaging = MessagingModule.forRoot({
  serviceName: `chaos-${RUN}`,
  transport: 'rabbitmq',
  rabbitmq: { url: AMQP_URL, exchange: `chaos.${RUN}.events`, reconnectDelayMs: 300, publishConfirmTimeoutMs: 5_000 },
  outbox: { ...outboxTables, relay: ROLE === 'producer', pollIntervalMs: 200 },
  handlerTimeoutMs: HANDLER_TIMEOUT_MS * 2,
  shutdownTimeoutMs: 3_000,
});

@Module({ imports: [orm, messaging], providers: ROLE === 'consumer' ? [Effects] : [] })
class AppModule {}

async function produce(
  transactions: MessagingTransactions,
  events: EventBus,
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
      // rolled back (on purpose, or a fault): no order, no event
    }
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
      produce(
        app.get(MessagingTransactions),
        app.get(EventBus),
        app.get(DataSource),
        message.produce as Parameters<typeof produce>[3],
      ).catch((error: Error) => send({ error: error.message }));
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
