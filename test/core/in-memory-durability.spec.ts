import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventBus, MessageContext, MessagingTransactions, Subscribe, createMessagingEntities } from '../../lib';
import { startApp } from './app.helper';

/**
 * The embedded default (SQLite file + in-memory transport + outbox) keeps the outbox promise: an
 * event committed before a shutdown that cut its handling short is delivered after the restart,
 * once. The relay marks a row sent only when the in-memory subscribers have settled it.
 */
@Injectable()
class SlowSink {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe('Slow', { name: 'slow-sink', concurrency: 1 })
  async on(event: { n: number }) {
    await new Promise((r) => setTimeout(r, 30));
    await this.ctx.manager.query('INSERT INTO effects (n) VALUES (?)', [event.n]);
  }
}

describe('in-memory transport with the outbox on a SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'in-memory-durability-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = () =>
    startApp([SlowSink], { outbox: { pollIntervalMs: 20 }, shutdownTimeoutMs: 100 }, [
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database: join(dir, 'app.db'),
        entities: createMessagingEntities({ database: 'sqlite' }),
        synchronize: true,
      }),
    ]);

  it('delivers after a restart what a short shutdown left unhandled, with one effect each', async () => {
    let app = await start();
    await app.get(DataSource).query('CREATE TABLE effects (n integer NOT NULL)');
    await app
      .get(MessagingTransactions)
      .run(() => app.get(EventBus).publishAll(Array.from({ length: 30 }, (_, n) => ({ type: 'Slow', n }))));
    await new Promise((r) => setTimeout(r, 150));
    await app.close(); // 100 ms drain: most events are still unhandled
    app = await start();
    const ds = app.get(DataSource);
    const count = async () => Number((await ds.query('SELECT count(*) AS c FROM effects'))[0].c);
    const deadline = Date.now() + 15_000;
    while ((await count()) < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    const rows = await ds.query('SELECT count(*) AS total, count(DISTINCT n) AS distinct_n FROM effects');
    expect({ total: Number(rows[0].total), distinct: Number(rows[0].distinct_n) }).toEqual({ total: 30, distinct: 30 });
    expect(Number((await ds.query(`SELECT count(*) AS c FROM messaging_outbox WHERE status <> 'sent'`))[0].c)).toBe(0);
    await app.close();
  }, 30_000);
});
