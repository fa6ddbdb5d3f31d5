/**
 * Child process of inbox-kill.pg.spec.ts (run with `-r ts-node/register/transpile-only`, forked
 * with IPC): a Nest app with the PostgreSQL inbox whose subscriber, on its first attempt, writes
 * its effect, reports its backend pid to the parent and blocks in a statement until the parent
 * terminates that backend. Later attempts just write the effect. Messages from the parent:
 * `{ publish: key }`; the child answers `{ ready }`, `{ inTransaction: pid }`, `{ handled: key }`.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { EventBus, MessageContext, MessagingModule, Subscribe, createMessagingEntities } from '../../../lib';

const { DB_URL, OUTBOX, INBOX, EFFECTS, APP_NAME } = process.env as Record<string, string>;
const send = (message: object) => process.send?.(message);
const attempts = new Map<string, number>();

@Injectable()
class Effects {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe('Order', { name: 'effects', retry: { maxRetries: 5, initialDelayMs: 50, jitter: 0 } })
  async on(event: { key: string }): Promise<void> {
    const n = (attempts.get(event.key) ?? 0) + 1;
    attempts.set(event.key, n);
    const manager = this.ctx.manager as EntityManager;
    await manager.query(`INSERT INTO ${EFFECTS} (key) VALUES ($1)`, [event.key]);
    if (n === 1 && event.key.startsWith('block')) {
      const [{ pid }] = await manager.query('SELECT pg_backend_pid() AS pid');
      send({ inTransaction: pid, key: event.key });
      await manager.query('SELECT pg_sleep(20)'); // the parent terminates this backend
    }
    if (n === 1 && event.key.startsWith('idle')) {
      const [{ pid }] = await manager.query('SELECT pg_backend_pid() AS pid');
      send({ inTransaction: pid, key: event.key });
      // idle in transaction while the parent terminates the backend, then carry on
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await manager.query(`INSERT INTO ${EFFECTS} (key) VALUES ($1)`, [`${event.key}-after`]);
    }
    send({ handled: event.key, attempt: n });
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: DB_URL,
      applicationName: APP_NAME,
      poolSize: 4,
      entities: createMessagingEntities({ database: 'postgres', outboxTable: OUTBOX, inboxTable: INBOX }),
    }),
    MessagingModule.forRoot({
      serviceName: 'inbox-kill',
      outbox: { outboxTable: OUTBOX, inboxTable: INBOX, pollIntervalMs: 20 },
    }),
  ],
  providers: [Effects],
})
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  const bus = app.get(EventBus);
  process.on('message', (message: { publish?: string; exit?: boolean }) => {
    // a publish that meets a connection the server just terminated fails to the caller: try again
    const publish = async (key: string, tries = 3): Promise<void> => {
      try {
        await bus.publish({ type: 'Order', key });
      } catch (error) {
        if (tries <= 1) throw error;
        await publish(key, tries - 1);
      }
    };
    if (message.publish) publish(message.publish).catch((error) => send({ publishFailed: String(error) }));
    if (message.exit) void app.close().then(() => process.exit(0));
  });
  send({ ready: true });
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  process.exit(1);
});
