import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventBus, InMemoryBroker, MessageContext, Subscribe, createMessagingEntities } from '../../lib';
import { TEST_DATABASE_URL } from '../setup/services';
import { startApp } from './app.helper';

/** Two services with a subscriber of the same name and one processed-messages table: each has its effect. */
const suffix = randomBytes(3).toString('hex');
const inboxTable = `shared_inbox_${suffix}`;
const effects: string[] = [];

@Injectable()
class Sink {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe('Shared', { name: 'sink' })
  on() {
    effects.push(this.ctx.message!.source);
  }
}

describe('services sharing the inbox table', () => {
  afterAll(async () => {
    const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
    await ds.initialize();
    await ds.query(`DROP TABLE IF EXISTS ${inboxTable}, shared_outbox_a_${suffix}, shared_outbox_b_${suffix}`);
    await ds.destroy();
  });

  it('keys processed messages by service and subscriber', async () => {
    const broker = new InMemoryBroker();
    const app = (service: string) => {
      const outboxTable = `shared_outbox_${service}_${suffix}`;
      return startApp(
        [Sink],
        { serviceName: service, inMemory: { broker }, outbox: { outboxTable, inboxTable, pollIntervalMs: 20 } },
        [
          TypeOrmModule.forRoot({
            type: 'postgres',
            url: TEST_DATABASE_URL,
            entities: createMessagingEntities({ database: 'postgres', outboxTable, inboxTable }),
            synchronize: true,
          }),
        ],
      );
    };
    const a = await app('a');
    const b = await app('b');
    try {
      await a.get(EventBus).publish({ type: 'Shared' });
      const deadline = Date.now() + 5000;
      while (effects.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(effects).toEqual(['a', 'a']);
      const keys = await a.get(DataSource).query(`SELECT subscriber FROM ${inboxTable} ORDER BY subscriber`);
      expect(keys.map((k: { subscriber: string }) => k.subscriber)).toEqual(['a.sink', 'b.sink']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
