import 'reflect-metadata';
import * as path from 'node:path';
import { Injectable, type INestApplication } from '@nestjs/common';
import type { Page } from 'playwright-core';
import type { DataSource } from 'typeorm';
import {
  createDeadLetterMigration,
  EventBus,
  Message,
  MessageContext,
  MessagingConsoleModule,
  MessagingTransactions,
  Subscribe,
} from '../../lib';
import { cleanup, runId, TEST_AMQP_URL } from '../rabbitmq/rabbitmq-test.helpers';
import { dropAll, pgDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';
import { openBrowser, pageProblems, startConsoleApp, testToken } from './console-app.helper';

/*
 * The issue's "done when", in headless Chromium: orders stop shipping after a bad deploy; from the
 * page alone the operator sees the failure group appear, dry-runs it (would fail), the fix is
 * deployed, dry-runs again (would succeed), retries the group, watches it drain, and follows the
 * orders' journey. RabbitMQ and the PostgreSQL outbox, in this process. With CONSOLE_SCREENSHOT=1
 * it also saves docs/console.png for the README.
 */
const run = runId();
const exchange = `${run}.events`;
// a plain name for the README's screenshot (its queues are deleted at the end like the others)
const service = process.env.CONSOLE_SCREENSHOT === '1' ? 'orders-demo' : `${run}-orders`;
const tables = uniqueTables('con');
const deadLetterTable = `con_dead_${run}`;
const ORDERS = 5;
/** How many dead letters of a group the page dry-runs (option `dryRunSample`). */
const SAMPLE = 4;

@Message('ConsoleOrderPlaced')
class OrderPlaced {
  constructor(
    readonly orderId: string,
    readonly sku: string,
  ) {}
}
@Message('ConsoleOrderShipped')
class OrderShipped {
  constructor(readonly orderId: string) {}
}

/** The deploy: `bad` until the fix is out. */
const deploy = { bad: true };

@Injectable()
class Shipping {
  constructor(
    private readonly context: MessageContext,
    private readonly events: EventBus,
  ) {}

  @Subscribe(OrderPlaced, { name: 'shipping', retry: { maxRetries: 0 } })
  async ship(order: OrderPlaced) {
    await this.context.manager.query(`INSERT INTO "${tables.ordersTable}" (id, note) VALUES ($1, 'shipped')`, [
      order.orderId,
    ]);
    if (deploy.bad) throw new TypeError(`carrier rate missing for order ${order.orderId} (zone 7)`);
    await this.events.publish(new OrderShipped(order.orderId));
  }

  @Subscribe(OrderShipped, { name: 'notifications' })
  notify() {}
}

describe('operations console end to end (Chromium, RabbitMQ, PostgreSQL outbox)', () => {
  const token = testToken();
  let ds: DataSource;
  let app: INestApplication;
  let lines: string[];
  let url: string;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;
  let problems: string[];
  let correlationId = '';
  const group = () => page.locator('article.group', { hasText: 'shipping' });
  const cell = (subscriber: string, column: number) =>
    page.locator(`#subscribers tr[data-subscriber="${subscriber}"] td:nth-child(${column})`);

  beforeAll(async () => {
    ds = await pgDataSource(tables);
    const qr = ds.createQueryRunner();
    await new (createDeadLetterMigration(deadLetterTable))().up(qr).finally(() => qr.release());
    ({ app, url } = await startConsoleApp({
      messaging: {
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
      },
      providers: [Shipping],
      console: MessagingConsoleModule.forRoot({
        path: '/ops/messaging',
        token,
        refreshIntervalMs: 1000,
        dryRunSample: SAMPLE,
      }),
    }).then((s) => ((lines = s.logger.lines), s)));
    browser = await openBrowser();
    page = browser.page;
    problems = pageProblems(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (ds?.isInitialized) {
      const qr = ds.createQueryRunner();
      await new (createDeadLetterMigration(deadLetterTable))().down(qr).finally(() => qr.release());
      await dropAll(ds, tables);
    }
    await cleanup((name) => name.includes(run) || name.startsWith(`${service}.`), [], [exchange, `${service}.retry`]);
  });

  it('signs in with the token and shows a healthy service', async () => {
    await page.goto(`${url}/ops/messaging`);
    await page.fill('#token-input', token);
    await page.click('#login-form button[type=submit]');
    await page.locator('#connection', { hasText: 'rabbitmq connected' }).waitFor();
    await page.locator('#groups .empty', { hasText: 'No failures' }).waitFor();
    await cell('shipping', 3).filter({ hasText: '1' }).waitFor(); // one consumer on its queue
  });

  it('after the bad deploy, the failing orders appear as one failure group', async () => {
    await app.get(MessagingTransactions).run(async () => {
      correlationId = app.get(MessageContext).correlationId!;
      for (let i = 1; i <= ORDERS; i++) await app.get(EventBus).publish(new OrderPlaced(`SO-${1000 + i}`, `SKU-${i}`));
    });
    await group()
      .filter({ hasText: `${ORDERS} dead letters` })
      .waitFor({ timeout: 30_000 });
    expect(await group().locator('.group-title').textContent()).toBe('TypeError in shipping');
    expect(await group().locator('.group-message').textContent()).toBe(
      'carrier rate missing for order SO-<n> (zone <n>)',
    );
    expect(await group().locator('.group-meta').textContent()).toContain('Shipping.ship (console-e2e.browser.spec)');
    await page.locator('[data-card="groups"] .value', { hasText: '1' }).waitFor();
    await cell('shipping', 10)
      .filter({ hasText: String(ORDERS) })
      .waitFor(); // dead-lettered
  }, 60_000);

  it('a dry run says the handler would still fail, and nothing was written', async () => {
    await group().locator('button[data-action="dry-run"]').click();
    const result = group().locator('.result[data-outcome="would-fail"]');
    await result.waitFor();
    expect(await result.textContent()).toContain(
      `Dry run (a sample: ${SAMPLE} of ${ORDERS}): all ${SAMPLE} would still fail. Do not retry yet.`,
    );
    expect(await result.locator('li').count()).toBe(SAMPLE);
    expect(await result.textContent()).toContain('TypeError: carrier rate missing for order SO-');
    expect(Number((await ds.query(`SELECT count(*)::int AS n FROM "${tables.ordersTable}"`))[0].n)).toBe(0);
  });

  it('after the fix, a dry run says it would succeed, publishing the shipment (captured, not sent)', async () => {
    deploy.bad = false;
    await group().locator('button[data-action="dry-run"]').click();
    const result = group().locator('.result[data-outcome="would-succeed"]');
    await result.waitFor();
    expect(await result.textContent()).toContain(`all ${SAMPLE} would succeed now. Retrying should work.`);
    expect(await result.textContent()).toContain('would publish ConsoleOrderShipped');
    expect(Number((await ds.query(`SELECT count(*)::int AS n FROM "${tables.ordersTable}"`))[0].n)).toBe(0);
  });

  it("follows an order's journey from the example dead letter", async () => {
    await group().locator('summary').click();
    await group().locator('button[data-action="journey"]').click();
    await page.locator('#journey .journey-summary', { hasText: correlationId }).waitFor();
    expect(await page.locator('#journey > ul > li.jm').count()).toBe(ORDERS);
    expect(await page.locator('#journey .tag.bad', { hasText: 'dead letter' }).count()).toBe(ORDERS);
    expect(page.url()).toContain(`#journey=${correlationId}`);
    if (process.env.CONSOLE_SCREENSHOT === '1') {
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: path.resolve(__dirname, '../../docs/console.png'), fullPage: true });
    }
  });

  it('retries the group: it drains, the orders ship, and the journey shows them handled', async () => {
    await group().locator('button[data-action="retry"]').click();
    await page.locator('#banner', { hasText: `Sent ${ORDERS} dead letters of TypeError in shipping` }).waitFor();
    await group().waitFor({ state: 'detached', timeout: 30_000 });
    await page.locator('#groups .empty', { hasText: 'No failures' }).waitFor();
    await cell('shipping', 6)
      .filter({ hasText: String(ORDERS) })
      .waitFor({ timeout: 30_000 }); // handled
    await cell('notifications', 6)
      .filter({ hasText: String(ORDERS) })
      .waitFor({ timeout: 30_000 });
    await cell('shipping', 2).filter({ hasText: /^0$/ }).waitFor(); // queue depth
    await page.locator('[data-card="dlq"] .value', { hasText: /^0$/ }).waitFor();

    await page.fill('#journey-id', correlationId);
    await page.click('#journey-form button[type=submit]');
    await page.locator('#journey .journey-summary', { hasText: `${ORDERS * 2} messages` }).waitFor();
    const roots = page.locator('#journey > ul > li.jm');
    expect(await roots.count()).toBe(ORDERS);
    for (let i = 0; i < ORDERS; i++) {
      const root = roots.nth(i);
      expect(await root.locator(':scope > .jm-card .jm-type').textContent()).toBe('ConsoleOrderPlaced');
      expect(await root.locator(':scope > .jm-card').textContent()).toContain(`handled by ${service}.shipping`);
      const child = root.locator(':scope > ul > li.jm');
      expect(await child.locator('.jm-type').textContent()).toBe('ConsoleOrderShipped');
      expect(await child.textContent()).toContain(`handled by ${service}.notifications`);
    }
  }, 60_000);

  it('logged every action with the actor, never the token, and the page reported no error', () => {
    const actions = lines.filter((l) => / by token/.test(l));
    expect(actions.filter((l) => l.includes('dry-run-group'))).toEqual([
      expect.stringContaining(`: ${SAMPLE} dead letters (0 would succeed, ${SAMPLE} would fail)`),
      expect.stringContaining(`: ${SAMPLE} dead letters (${SAMPLE} would succeed, 0 would fail)`),
    ]);
    expect(actions.some((l) => l.includes(`retry-group`) && l.includes(`: ${ORDERS} dead letters`))).toBe(true);
    expect(lines.filter((l) => l.includes(token))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
