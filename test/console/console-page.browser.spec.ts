import 'reflect-metadata';
import { Injectable, type INestApplication } from '@nestjs/common';
import type { Page } from 'playwright-core';
import { DeadLetterAdmin, DeadLetterService, EventBus, Message, MessagingConsoleModule, Subscribe } from '../../lib';
import { waitFor } from '../setup/wait';
import { uniqueService } from '../monitoring/monitoring-app.helper';
import { openBrowser, pageProblems, startConsoleApp, testToken } from './console-app.helper';

/*
 * The page in headless Chromium against an in-memory app with a global prefix: the token sign-in (a wrong token is
 * refused, the right one opens the page), and a dead letter whose error and payload carry HTML and
 * prototype names is shown as text: nothing of it becomes markup or runs.
 */
const HOSTILE = `<img src=x onerror="window.__pwned = 1">`;

@Message('ConsolePageHostile')
class Hostile {
  constructor(
    readonly html: string,
    readonly extra: Record<string, unknown>,
  ) {}
}

@Injectable()
class Renderer {
  @Subscribe(Hostile, { name: 'renderer', retry: { maxRetries: 0 } })
  onHostile(message: Hostile) {
    const error = new Error(`cannot render ${message.html}`);
    error.name = '__proto__';
    throw error;
  }
}

describe('console page in Chromium (in-memory transport)', () => {
  const token = testToken();
  let app: INestApplication;
  let extra: Record<string, unknown>;
  let url: string;
  let lines: string[];
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    ({
      app,
      url,
      logger: { lines },
    } = await startConsoleApp({
      messaging: { serviceName: uniqueService('console-page') },
      providers: [Renderer],
      console: MessagingConsoleModule.forRoot({ path: '/console', token, refreshIntervalMs: 1000 }),
      prefix: 'admin',
    }));
    extra = { valueOf: '<b>bold</b>', toString: 1, hasOwnProperty: '</script><script>window.__pwned = 2</script>' };
    await app.get(EventBus).publish(new Hostile(HOSTILE, extra));
    await waitFor(async () => (await app.get(DeadLetterService).count()) === 1, 'the dead letter');
    browser = await openBrowser();
    page = browser.page;
    problems = pageProblems(page);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('asks for the token, refuses a wrong one, and opens with the right one', async () => {
    await page.goto(`${url}/admin/console`); // under the app's global prefix
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#main').isHidden()).toBe(true);
    await page.fill('#token-input', `${token}-wrong`);
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'That token was not accepted.' }).waitFor();
    await page.fill('#token-input', token);
    await page.click('#login-form button[type=submit]');
    await page.locator('#main').waitFor({ state: 'visible' });
    await page.locator('#connection', { hasText: 'connected' }).waitFor();
    expect(await page.locator('#signout').isVisible()).toBe(true);
    expect(await page.locator('#login').isHidden()).toBe(true);
  });

  it('shows hostile dead-letter content as text only', async () => {
    const group = page.locator('article.group');
    await group.waitFor();
    expect(await group.locator('.group-title').textContent()).toBe('__proto__ in renderer');
    expect(await group.locator('.group-message').textContent()).toContain('<img src=x onerror=');
    await group.locator('summary').click();
    const payload = await group.locator('pre').last().textContent();
    expect(JSON.parse(payload!)).toEqual({ html: HOSTILE, extra });
    expect(await group.locator('img, b, script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(problems.filter((p) => !p.includes('status of 403'))).toEqual([]);
  });

  it('says plainly when a dry run is not possible (no outbox here)', async () => {
    const group = page.locator('article.group');
    await group.locator('button[data-action="dry-run-one"]').click();
    const result = group.locator('.result[data-outcome="error"]');
    await result.waitFor();
    expect(await result.textContent()).toMatch(/^Dry run not possible: dry run unavailable: .*outbox/);
  });

  it('purges a group only after the operator confirms it', async () => {
    const group = page.locator('article.group');
    await group.locator('button[data-action="purge"]').click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('#confirm-title').textContent()).toBe('Purge 1 dead letter?');
    expect(await dialog.locator('#confirm-text').textContent()).toContain('__proto__ in renderer');
    await dialog.locator('#confirm-cancel').click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await app.get(DeadLetterService).count()).toBe(1);

    await group.locator('button[data-action="purge"]').click();
    await dialog.locator('#confirm-ok').click();
    await page.locator('#banner', { hasText: 'Purged 1 dead letter of __proto__ in renderer.' }).waitFor();
    await group.waitFor({ state: 'detached' });
    await page.locator('#groups .empty', { hasText: 'No failures' }).waitFor();
    expect(await app.get(DeadLetterService).count()).toBe(0);
    expect(lines).toContainEqual(expect.stringMatching(/^purge-group \S+ by token: 1 dead letter MessagingConsole$/));
    expect(problems.filter((p) => !/status of (403|501)/.test(p))).toEqual([]);
  });

  it('refreshes the snapshot each time but reads the failure groups only when the dead-letter queue changed', async () => {
    const calls: string[] = [];
    const record = (r: { url(): string }) => void calls.push(new URL(r.url()).pathname);
    page.on('request', record);
    try {
      await waitFor(() => calls.filter((c) => c.endsWith('/api/overview')).length >= 4, 'four refreshes', 20_000);
    } finally {
      page.off('request', record);
    }
    // at most one read of the groups: the periodic one (every 30 s), should it fall in this window
    expect(calls.filter((c) => c.endsWith('/api/groups')).length).toBeLessThanOrEqual(1);
  });

  it('shows a notice when the groups were built from only the oldest dead letters, and none when from all', async () => {
    const admin = app.get(DeadLetterAdmin);
    admin.scanLimit = 1; // instead of 10,000
    try {
      const before = await app.get(DeadLetterService).count();
      await app.get(EventBus).publish(new Hostile('a', {}));
      await app.get(EventBus).publish(new Hostile('b', {}));
      await waitFor(async () => (await app.get(DeadLetterService).count()) === before + 2, 'two more dead letters');
      const notice = page.locator('#groups-truncated');
      await notice.waitFor({ state: 'visible', timeout: 20_000 }); // the queue's depth moved: the groups are read
      expect(await notice.textContent()).toMatch(
        /^Partial: the dead-letter queue holds more than the 1 oldest dead letters read\. /,
      );
      expect(await page.locator('article.group .group-count').first().textContent()).toContain('1');
      admin.scanLimit = 10_000;
      await app.get(EventBus).publish(new Hostile('c', {})); // moves the depth again: read again
      await notice.waitFor({ state: 'hidden', timeout: 20_000 });
    } finally {
      admin.scanLimit = 10_000;
    }
  });
});
