import 'reflect-metadata';
import {
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import type { Page } from 'playwright-core';
import { DeadLetterService, EventBus, Message, MessagingConsoleModule, Subscribe } from '../../lib';
import { waitFor } from '../setup/wait';
import { uniqueService } from '../monitoring/monitoring-app.helper';
import { openBrowser, startConsoleApp } from './console-app.helper';

/*
 * The page behind the app's own guard, in Chromium (in-memory transport): no token asked, an
 * action is logged with the guard's user, deliveries in flight are shown, and when the app stops letting the operator in (a
 * session that expired), the page says so instead of asking for a console token.
 */
@Message('ConsoleGuardInvoice')
class Invoice {
  constructor(readonly n: number) {}
}

@Message('ConsoleGuardReport')
class Report {
  constructor(readonly n: number) {}
}

let release: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (release = resolve));

@Injectable()
class Billing {
  @Subscribe(Report, { name: 'reports' })
  async onReport() {
    await gate;
  }

  @Subscribe(Invoice, { name: 'billing', retry: { maxRetries: 0 } })
  onInvoice() {
    throw new TypeError('tax table is undefined');
  }
}

/** Lets in requests whose `X-Operator` header names an operator (a stand-in for a session). */
@Injectable()
class SessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
    const operator = req.headers['x-operator'];
    if (!operator) throw new UnauthorizedException('your session has expired');
    req.user = { email: `${operator}@example.com` };
    return true;
  }
}

describe('console page behind the app guard, in Chromium (in-memory transport)', () => {
  let app: INestApplication;
  let url: string;
  let lines: string[];
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;

  beforeAll(async () => {
    ({
      app,
      url,
      logger: { lines },
    } = await startConsoleApp({
      messaging: { serviceName: uniqueService('console-guard-page') },
      providers: [Billing],
      console: MessagingConsoleModule.forRoot({ guard: SessionGuard, refreshIntervalMs: 1000, title: 'Billing ops' }),
    }));
    await app.get(EventBus).publish(new Invoice(1));
    await waitFor(async () => (await app.get(DeadLetterService).count()) === 1, 'the dead letter');
    browser = await openBrowser();
    page = browser.page;
  });

  afterAll(async () => {
    release();
    await browser?.close();
    await app?.close();
  });

  it('opens without a token, and logs a retry with the guard user as the actor', async () => {
    await page.setExtraHTTPHeaders({ 'X-Operator': 'dana' });
    await page.goto(`${url}/messaging`);
    await page.locator('#main').waitFor({ state: 'visible' });
    await page.locator('article.group').waitFor();
    expect(await page.title()).toBe('(1) Billing ops'); // one failure group
    expect(await page.locator('#login').isHidden()).toBe(true);
    expect(await page.locator('#signout').isHidden()).toBe(true);
    const group = page.locator('article.group', { hasText: 'TypeError in billing' });
    await group.locator('button[data-action="retry"]').click();
    await page.locator('#banner', { hasText: 'Sent 1 dead letter of TypeError in billing back' }).waitFor();
    expect(lines).toContainEqual(expect.stringMatching(/^retry-group \S+ by dana@example\.com: 1 dead letter /));
    // still broken: back as a dead letter
    await waitFor(async () => (await app.get(DeadLetterService).count()) === 1, 'the dead letter again');
  });

  it('shows the deliveries in flight while a handler works, and 0 once it is done', async () => {
    const inFlight = page.locator('#subscribers tr[data-subscriber="reports"] td:nth-child(4)');
    await app.get(EventBus).publish(new Report(1));
    await inFlight.filter({ hasText: /^1$/ }).waitFor();
    expect(await inFlight.isVisible()).toBe(true);
    release();
    await inFlight.filter({ hasText: /^0$/ }).waitFor();
  });

  it('when the app no longer lets the operator in, says so and does not ask for a console token', async () => {
    await page.setExtraHTTPHeaders({});
    await page
      .locator('#banner', { hasText: 'Not allowed: your session has expired. Sign in to the application' })
      .waitFor();
    expect(await page.locator('#login').isHidden()).toBe(true);
  });
});
