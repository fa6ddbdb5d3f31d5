import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DynamicModule, INestApplication, ModuleMetadata, Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { MessagingModule, type MessagingModuleOptions } from '../../lib';
import { CapturingLogger } from '../rabbitmq/rabbitmq-test.helpers';

/** A console token for tests (long enough, unique per run). */
export function testToken(): string {
  return `console-${randomBytes(16).toString('hex')}`;
}

/** A Nest HTTP app (Express) with the messaging module, the console and `providers`; listening on 127.0.0.1. */
export async function startConsoleApp(options: {
  messaging: MessagingModuleOptions;
  console: DynamicModule;
  providers?: Provider[];
  imports?: ModuleMetadata['imports'];
  logger?: CapturingLogger;
  /** The app's global prefix, if any. */
  prefix?: string;
}): Promise<{ app: INestApplication; url: string; logger: CapturingLogger }> {
  const logger = options.logger ?? new CapturingLogger();
  const moduleRef = await Test.createTestingModule({
    imports: [MessagingModule.forRoot(options.messaging), ...(options.imports ?? []), options.console],
    providers: options.providers ?? [],
  })
    .setLogger(logger)
    .compile();
  const app = moduleRef.createNestApplication({ logger });
  if (options.prefix) app.setGlobalPrefix(options.prefix);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1'), logger };
}

/** Where Debian's Chromium lives (`.ci/run` installs the `chromium` package when it is missing). */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium with a fresh profile; `close()` removes the profile too. */
export async function openBrowser(): Promise<{ page: Page; context: BrowserContext; close(): Promise<void> }> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium), as .ci/run does`,
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  return {
    page,
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Collects what the page reports as wrong: script errors and console errors (CSP violations among them). */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return problems;
}
