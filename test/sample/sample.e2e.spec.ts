import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import request from 'supertest';
import { AppModule } from '../../sample/app.module';
import { TEST_AMQP_URL, TEST_DATABASE_URL } from '../setup/services';
import { cleanup as cleanupRabbit } from '../rabbitmq/rabbitmq-test.helpers';

const quiet = { log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} };

async function startSample(env: Record<string, string>): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(env)] })
    .setLogger(quiet)
    .compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

function scenario(name: string, env: () => Record<string, string>) {
  describe(`sample end to end (${name})`, () => {
    let app: INestApplication;
    const corr = `e2e-${name.replace(/[^A-Za-z0-9]+/g, '-')}`;

    beforeAll(async () => {
      app = await startSample(env());
    });
    afterAll(async () => {
      await app?.close();
    });

    it('HTTP request → command → event → both subscribers, with the correlation carried', async () => {
      const res = await request(app.getHttpServer())
        .post('/orders')
        .set('x-correlation-id', corr)
        .send({ customerId: 'alice', totalAmount: 42 })
        .expect(201);
      expect(res.headers['x-correlation-id']).toBe(corr);
      const orderId: string = res.body.id;
      let view: any;
      async function poll() {
        view = (await request(app.getHttpServer()).get(`/orders/${orderId}`).expect(200)).body;
      }
      const deadline = Date.now() + 15_000;
      while (!(view?.reservations?.length === 1 && view?.notifications?.length === 1) && Date.now() < deadline) {
        await poll();
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(view.order).toMatchObject({ id: orderId, customerId: 'alice', totalAmount: 42 });
      expect(view.reservations).toHaveLength(1);
      expect(view.notifications).toHaveLength(1);
      expect(view.reservations[0].correlationId).toBe(corr);
      expect(view.notifications[0].correlationId).toBe(corr);
      // causation: the reservation was caused by the OrderCreated event, a UUID v7 that is not the order id
      expect(view.reservations[0].causationId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
      expect(view.reservations[0].causationId).not.toBe(orderId);
    });

    it('exposes /health, /health/messaging and /metrics', async () => {
      const health = await request(app.getHttpServer()).get('/health').expect(200);
      expect(health.body.status).toBe('ok');
      const snapshot = (await request(app.getHttpServer()).get('/health/messaging').expect(200)).body;
      expect(snapshot.outbox).toMatchObject({ pending: expect.any(Number), failed: 0 });
      expect(snapshot.subscribers.map((s: { subscriber: string }) => s.subscriber).sort()).toEqual([
        'inventory',
        'notifications',
      ]);
      const metrics = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/messaging_messages_handled_total\{[^}]*subscriber="inventory"[^}]*\} [1-9]/);
      expect(metrics.text).toContain('messaging_outbox_pending');
    });

    it('rejects an invalid order with 400 and the validation details', async () => {
      const res = await request(app.getHttpServer())
        .post('/orders')
        .send({ customerId: '', totalAmount: -1 })
        .expect(400);
      expect(res.body.failures.map((f: { property: string }) => f.property).sort()).toEqual([
        'customerId',
        'totalAmount',
      ]);
    });

    it('a failing subscriber retries then dead-letters, without affecting the other', async () => {
      const res = await request(app.getHttpServer())
        .post('/orders')
        .send({ customerId: 'unreachable', totalAmount: 5 })
        .expect(201);
      let dead: any[] = [];
      const deadline = Date.now() + 15_000;
      while (dead.length === 0 && Date.now() < deadline) {
        dead = (await request(app.getHttpServer()).get('/dead-letters?subscriber=notifications').expect(200)).body;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ subscriber: 'notifications', attempts: 3, type: 'OrderCreated' });
      expect(dead[0].error.message).toContain('mail server refused');
      const view = (await request(app.getHttpServer()).get(`/orders/${res.body.id}`).expect(200)).body;
      expect(view.reservations).toHaveLength(1);
      expect(view.notifications).toHaveLength(0);
      const replayed = await request(app.getHttpServer())
        .post('/dead-letters/replay?subscriber=notifications')
        .expect(201);
      expect(replayed.body).toEqual({ replayed: 1 });
    });
  });
}

scenario('embedded: SQLite + in-memory transport', () => ({
  MESSAGING_SERVICE_NAME: `orders-${randomBytes(3).toString('hex')}`,
}));

const pgDatabase = `sample_e2e_${randomBytes(4).toString('hex')}`;
describe('with PostgreSQL', () => {
  beforeAll(async () => {
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pgDatabase}`);
    await admin.end();
  });
  afterAll(async () => {
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
    await admin.end();
  });
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${pgDatabase}`;
  scenario('PostgreSQL + in-memory transport', () => ({
    MESSAGING_SERVICE_NAME: 'orders',
    DATABASE_URL: url.toString(),
  }));
});

const rabbitRun = randomBytes(4).toString('hex');
describe('with RabbitMQ and PostgreSQL', () => {
  const service = `orders-e2e-${rabbitRun}`;
  const exchange = `sample-e2e-${rabbitRun}.events`;
  const database = `sample_rmq_${rabbitRun}`;
  beforeAll(async () => {
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
  });
  afterAll(async () => {
    await cleanupRabbit(rabbitRun, [], [exchange, `${service}.retry`]);
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${database}`;
  scenario('PostgreSQL + RabbitMQ', () => ({
    MESSAGING_SERVICE_NAME: service,
    MESSAGING_TRANSPORT: 'rabbitmq',
    MESSAGING_AMQP_URL: TEST_AMQP_URL,
    MESSAGING_AMQP_EXCHANGE: exchange,
    DATABASE_URL: url.toString(),
  }));
});

describe('npm run sample -- --once', () => {
  it('runs the sample on the embedded default and shows an order handled and a dead letter', async () => {
    const root = path.resolve(__dirname, '../..');
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: port };
    delete env.DATABASE_URL;
    delete env.MESSAGING_TRANSPORT;
    const child = spawn('npm', ['run', '--silent', 'sample', '--', '--once'], { cwd: root, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain('sent confirmation of order');
    expect(output).toContain('reserved stock for order');
    expect(output).toMatch(/GET \/dead-letters → 1 dead letter/);
  }, 90_000);
});
