import 'reflect-metadata';
import {
  Injectable,
  Module,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import request from 'supertest';
import {
  DeadLetterAdmin,
  DeadLetterService,
  EventBus,
  Message,
  MessagingConsoleModule,
  MessagingOperationsService,
  Subscribe,
  type ConsoleAction,
} from '../../lib';
import { waitFor } from '../setup/wait';
import { startConsoleApp, testToken } from './console-app.helper';
import { uniqueService } from '../monitoring/monitoring-app.helper';

/*
 * The console's HTTP surface on an Express app (in-memory transport): the page and its API, the
 * token (401 without, 403 when wrong, never logged), the app's own guard and the actor it names,
 * the header that stops cross-site actions, and the log line of every action.
 */
@Message('ConsoleHttpOrder')
class Order {
  constructor(readonly n: number) {}
}

@Injectable()
class Shipping {
  @Subscribe(Order, { name: 'shipping', retry: { maxRetries: 0 } })
  onOrder(order: Order) {
    throw new RangeError(`order ${order.n} has no address`);
  }
}

async function deadLetters(app: INestApplication, n: number): Promise<void> {
  const bus = app.get(EventBus);
  const before = await app.get(DeadLetterService).count();
  for (let i = 0; i < n; i++) await bus.publish(new Order(i));
  await waitFor(async () => (await app.get(DeadLetterService).count()) === before + n, `${n} dead letters`);
}

describe('console HTTP API with a token (Express, in-memory transport)', () => {
  const token = testToken();
  let app: INestApplication;
  let lines: string[];
  const actions: ConsoleAction[] = [];
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    const started = await startConsoleApp({
      messaging: { serviceName: uniqueService('console-http') },
      providers: [Shipping],
      console: MessagingConsoleModule.forRootAsync({
        path: '/ops/messaging/',
        inject: [],
        useFactory: () => ({ token, onAction: (a: ConsoleAction) => void actions.push(a) }),
      }),
    });
    app = started.app;
    lines = started.logger.lines;
    await deadLetters(app, 3);
  });

  afterAll(() => app?.close());

  it('serves the page at the configured path, with a CSP that allows only its own script and style', async () => {
    const res = await request(server()).get('/ops/messaging').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.text).toContain('"tokenRequired":true');
    expect(res.text).not.toContain(token);
  });

  it('answers 401 without the token and 403 with a wrong one, on every API route', async () => {
    for (const [method, url] of [
      ['get', '/ops/messaging/api/overview'],
      ['get', '/ops/messaging/api/groups'],
      ['get', '/ops/messaging/api/journey?id=x'],
      ['post', '/ops/messaging/api/groups/x/retry'],
    ] as const) {
      const missing = await request(server())[method](url).set('X-Messaging-Console', '1');
      expect([url, missing.status]).toEqual([url, 401]);
      expect(missing.body.message).toContain('X-Messaging-Console-Token'.toLowerCase());
      const wrong = await request(server())
        [method](url)
        .set('X-Messaging-Console', '1')
        .set('X-Messaging-Console-Token', `${token}x`);
      expect([url, wrong.status]).toEqual([url, 403]);
      // the page asks for the token again only when the token was refused (not the app's guard)
      expect([missing.body.reason, wrong.body.reason]).toEqual(['console-token', 'console-token']);
    }
  });

  it('serves the snapshot and the failure groups with the token', async () => {
    const overview = await request(server())
      .get('/ops/messaging/api/overview')
      .set('X-Messaging-Console', '1')
      .set('X-Messaging-Console-Token', token)
      .expect(200);
    expect(overview.body.subscribers.map((s: { subscriber: string }) => s.subscriber)).toContain('shipping');
    const groups = await request(server())
      .get('/ops/messaging/api/groups')
      .set('X-Messaging-Console', '1')
      .set('X-Messaging-Console-Token', token);
    expect(groups.body).toHaveLength(1);
    expect(groups.body[0]).toMatchObject({ subscriber: 'shipping', errorName: 'RangeError', count: 3 });
    // how many dead letters the groups were built from travels in headers (the body stays the array)
    expect(groups.headers['x-dead-letters-scanned']).toBe('3');
    expect(groups.headers['x-dead-letters-truncated']).toBe('false');
  });

  it('says in headers when the groups were built from only the oldest dead letters', async () => {
    const admin = app.get(DeadLetterAdmin);
    admin.scanLimit = 2; // instead of 10,000
    try {
      const groups = await request(server())
        .get('/ops/messaging/api/groups')
        .set('X-Messaging-Console', '1')
        .set('X-Messaging-Console-Token', token)
        .expect(200);
      expect(groups.body[0]).toMatchObject({ subscriber: 'shipping', count: 2 });
      expect(groups.headers['x-dead-letters-scanned']).toBe('2');
      expect(groups.headers['x-dead-letters-truncated']).toBe('true');
    } finally {
      admin.scanLimit = 10_000;
    }
  });

  it('refuses reads without the X-Messaging-Console header, and any call a browser marks as cross-site', async () => {
    const groups = '/ops/messaging/api/groups';
    const bare = await request(server()).get(groups).set('X-Messaging-Console-Token', token);
    expect(bare.status).toBe(403);
    expect(bare.body.message).toContain('x-messaging-console');
    const withHeaders = () =>
      request(server()).get(groups).set('X-Messaging-Console', '1').set('X-Messaging-Console-Token', token);
    // what a page of another site gets when the app's CORS lets it send the header with cookies
    const crossSite = await withHeaders().set('Sec-Fetch-Site', 'cross-site');
    expect([crossSite.status, crossSite.body.message]).toEqual([403, expect.stringMatching(/another site/)]);
    const sameSite = await withHeaders().set('Sec-Fetch-Site', 'same-site');
    expect(sameSite.status).toBe(403);
    // an older browser without Sec-Fetch-*: its Origin must be this host
    const foreignOrigin = await withHeaders().set('Origin', 'https://evil.example');
    expect(foreignOrigin.status).toBe(403);
    const host = `127.0.0.1:${(server().address() as { port: number }).port}`;
    await withHeaders().set('Sec-Fetch-Site', 'same-origin').expect(200);
    await withHeaders().set('Host', host).set('Origin', `http://${host}`).expect(200);
  });

  it('refuses an action without the X-Messaging-Console header (a cross-site form cannot set it)', async () => {
    const [group] = await app.get(MessagingOperationsService).failureGroups();
    const res = await request(server())
      .post(`/ops/messaging/api/groups/${group.id}/retry`)
      .set('X-Messaging-Console-Token', token)
      .expect(403);
    expect(res.body.message).toContain('x-messaging-console');
    expect((await app.get(MessagingOperationsService).failureGroup(group.id))?.count).toBe(3);
  });

  it('answers 501 to a dry run without the outbox, saying why, and logs the attempt with the actor', async () => {
    const [group] = await app.get(MessagingOperationsService).failureGroups();
    const res = await request(server())
      .post(`/ops/messaging/api/groups/${group.id}/dry-run`)
      .set('X-Messaging-Console', '1')
      .set('X-Messaging-Console-Token', token)
      .send({ sample: 2 })
      .expect(501);
    expect(res.body.message).toMatch(/^dry run unavailable: .*outbox/);
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`dry-run-group ${group.id} by token failed: dry run`)),
    );
    expect(actions.splice(0)).toEqual([expect.objectContaining({ action: 'dry-run-group', outcome: 'failed' })]);
    const bad = await request(server())
      .post(`/ops/messaging/api/groups/${group.id}/dry-run`)
      .set('X-Messaging-Console', '1')
      .set('X-Messaging-Console-Token', token)
      .send({ sample: 'all' });
    expect([bad.status, bad.body.message]).toEqual([400, 'sample must be an integer from 1 to 50']);
  });

  it('answers 404 to a retry of a dead letter that is not there (nothing was sent)', async () => {
    const res = await request(server())
      .post('/ops/messaging/api/dead-letters/no-such-dead-letter/retry')
      .set('X-Messaging-Console', '1')
      .set('X-Messaging-Console-Token', token);
    expect([res.status, res.body.message]).toEqual([404, expect.stringMatching(/no dead letter with id/)]);
    expect(actions.splice(0)).toEqual([expect.objectContaining({ action: 'retry-one', count: 0 })]);
  });

  it('purges only with the group token, logs each attempt with the actor "token", and never logs the token', async () => {
    const [group] = await app.get(MessagingOperationsService).failureGroups();
    const call = (body: object) =>
      request(server())
        .post(`/ops/messaging/api/groups/${group.id}/purge`)
        .set('X-Messaging-Console', '1')
        .set('X-Messaging-Console-Token', token)
        .send(body);
    expect((await call({ token: 'not-the-token' })).status).toBe(409);
    const read = await request(server())
      .get(`/ops/messaging/api/groups/${group.id}`)
      .set('X-Messaging-Console', '1')
      .set('X-Messaging-Console-Token', token)
      .expect(200);
    expect(read.body.group.count).toBe(3);
    const purged = await call({ token: read.body.purgeToken }).expect(200);
    expect(purged.body).toEqual({ purged: 3 });
    expect(await app.get(DeadLetterService).count()).toBe(0);
    expect(lines.filter((l) => l.includes(`purge-group ${group.id} by token`)).length).toBe(2);
    expect(lines.some((l) => l.includes(`purge-group ${group.id} by token: 3 dead letters`))).toBe(true);
    expect(actions.map((a) => [a.action, a.actor, a.outcome, a.count])).toEqual([
      ['purge-group', 'token', 'failed', undefined],
      ['purge-group', 'token', 'done', 3],
    ]);
    expect(lines.filter((l) => l.includes(token))).toEqual([]);
    expect(
      (
        await request(server())
          .get(`/ops/messaging/api/groups/${group.id}`)
          .set('X-Messaging-Console', '1')
          .set('X-Messaging-Console-Token', token)
      ).status,
    ).toBe(404);
  });
});

@Injectable()
class Operators {
  /** Who a request's `X-Operator` header names, if it is one of ours. */
  who(header: unknown): string | undefined {
    return typeof header === 'string' && header.startsWith('ops-') ? decodeURIComponent(header) : undefined;
  }
}

/** The app's module the guard's dependency comes from (passed to the console's `imports`). */
@Module({ providers: [Operators], exports: [Operators] })
class OperatorsModule {}

@Injectable()
class OperatorGuard implements CanActivate {
  constructor(private readonly operators: Operators) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
    const name = this.operators.who(req.headers['x-operator']);
    if (!name) throw new UnauthorizedException('operators only');
    req.user = { id: 7, username: name };
    return true;
  }
}

describe("console HTTP API behind the app's own guard (Express, in-memory transport)", () => {
  let app: INestApplication;
  let lines: string[];
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    const started = await startConsoleApp({
      messaging: { serviceName: uniqueService('console-guard') },
      providers: [Shipping],
      console: MessagingConsoleModule.forRoot({ guard: OperatorGuard, imports: [OperatorsModule] }),
    });
    app = started.app;
    lines = started.logger.lines;
    await deadLetters(app, 2);
  });

  afterAll(() => app?.close());

  it("guards the page and the API with the app's guard (the default path is /messaging)", async () => {
    expect((await request(server()).get('/messaging')).status).toBe(401);
    expect((await request(server()).get('/messaging/api/groups')).status).toBe(401);
    await request(server()).get('/messaging').set('X-Operator', 'ops-alice').expect(200);
    const groups = await request(server())
      .get('/messaging/api/groups')
      .set('X-Messaging-Console', '1')
      .set('X-Operator', 'ops-alice')
      .expect(200);
    expect(groups.body[0]).toMatchObject({ subscriber: 'shipping', count: 2 });
  });

  it("logs a retry with the guard's user as the actor, control characters removed", async () => {
    const [group] = await app.get(MessagingOperationsService).failureGroups();
    const res = await request(server())
      .post(`/messaging/api/groups/${group.id}/retry`)
      .set('X-Operator', 'ops-bob%0Aforged%0Dline')
      .set('X-Messaging-Console', '1')
      .expect(200);
    expect(res.body).toEqual({ retried: 2 });
    expect(lines).toContainEqual(
      expect.stringContaining(`retry-group ${group.id} by ops-bob forged line: 2 dead letters`),
    );
    // the handler still fails: the retried messages are dead letters again
    await waitFor(
      async () => (await app.get(DeadLetterService).count()) === 2,
      'the retried messages dead-lettered again',
    );
  });
});

describe('console HTTP API with both a guard and a token, and an actor function', () => {
  const token = testToken();
  let app: INestApplication;
  let lines: string[];
  const server = () => app.getHttpServer();

  beforeAll(async () => {
    const started = await startConsoleApp({
      messaging: { serviceName: uniqueService('console-both') },
      providers: [Shipping],
      console: MessagingConsoleModule.forRoot({
        path: 'ops',
        guard: OperatorGuard,
        imports: [OperatorsModule],
        token,
        actor: (req) => `staff:${(req as { user: { id: number } }).user.id}`,
      }),
    });
    app = started.app;
    lines = started.logger.lines;
    await deadLetters(app, 1);
  });

  afterAll(() => app?.close());

  it('needs both to pass, and names the actor with the actor function', async () => {
    const [group] = await app.get(MessagingOperationsService).failureGroups();
    const retry = () => request(server()).post(`/ops/api/groups/${group.id}/retry`).set('X-Messaging-Console', '1');
    expect((await retry().set('X-Messaging-Console-Token', token)).status).toBe(401); // the guard
    expect((await retry().set('X-Operator', 'ops-carol')).status).toBe(401); // the token
    expect((await retry().set('X-Operator', 'ops-carol').set('X-Messaging-Console-Token', token)).body).toEqual({
      retried: 1,
    });
    expect(lines).toContainEqual(expect.stringContaining(`retry-group ${group.id} by staff:7: 1 dead letter`));
  });
});
