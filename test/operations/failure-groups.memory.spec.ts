import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  DeadLetterAdmin,
  DeadLetterService,
  DryRunUnavailableError,
  EventBus,
  FailureGroupNotFoundError,
  Message,
  MessagingModule,
  MessagingOperationsService,
  PurgeTokenMismatchError,
  InvalidJourneyQueryError,
  describeAlert,
  Subscribe,
  onlyNewFailureGroups,
  type MessagingAlert,
  type SubscriberSnapshot,
} from '../../lib';
import { waitFor } from '../setup/wait';
import { CapturingLogger } from '../rabbitmq/rabbitmq-test.helpers';

@Message('OpsOrderPlaced')
class OrderPlaced {
  constructor(readonly n: number) {}
}

const state = { broken: true, shipped: 0 };

@Injectable()
class Shipping {
  @Subscribe(OrderPlaced, { name: 'shipping', retry: { maxRetries: 0 } })
  onPlaced(event: OrderPlaced) {
    if (state.broken) {
      if (event.n % 2 === 0) throw new RangeError(`order ${event.n} not found in warehouse "W${event.n}"`);
      throw new TypeError('carrier is undefined');
    }
    state.shipped++;
  }
}

describe('MessagingOperationsService failure groups (in-memory transport)', () => {
  let moduleRef: TestingModule;
  let ops: MessagingOperationsService;
  const logger = new CapturingLogger();
  const alerts: MessagingAlert[] = [];
  const newOnly: MessagingAlert[] = [];

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        MessagingModule.forRoot({
          serviceName: 'ops-memory',
          monitoring: {
            onAlert: (a) => {
              alerts.push(a);
              return onlyNewFailureGroups((b) => void newOnly.push(b))(a);
            },
          },
        }),
      ],
      providers: [Shipping],
    })
      .setLogger(logger)
      .compile();
    await moduleRef.init();
    ops = moduleRef.get(MessagingOperationsService);
    const bus = moduleRef.get(EventBus);
    for (let n = 0; n < 6; n++) await bus.publish(new OrderPlaced(n));
    await waitFor(async () => (await moduleRef.get(DeadLetterService).count()) === 6, '6 dead letters');
  });

  afterAll(() => moduleRef?.close());

  it('groups by normalized message: one group per cause, ids and numbers not splitting it', async () => {
    const groups = await ops.failureGroups();
    expect(groups.map((g) => [g.errorName, g.normalizedMessage, g.count])).toEqual([
      ['RangeError', 'order <n> not found in warehouse <str>', 3],
      ['TypeError', 'carrier is undefined', 3],
    ]);
    expect(groups[0].topFrame).toBe('Shipping.onPlaced (failure-groups.memory.spec)'); // no line: stable across deploys
    expect(await ops.failureGroup(groups[1].id)).toEqual(groups[1]);
    expect(await ops.failureGroups({ subscriber: 'nobody' })).toEqual([]);
  });

  it('callers at the same time share one read of the dead letters', async () => {
    const list = jest.spyOn(moduleRef.get(DeadLetterAdmin), 'list');
    try {
      const [a, b] = await Promise.all([ops.failureGroups(), ops.failureGroups()]);
      expect(b).toBe(a);
      expect(list).toHaveBeenCalledTimes(1);
      expect(await ops.failureGroups()).toEqual(a); // a later call reads again
      expect(list).toHaveBeenCalledTimes(2);
    } finally {
      list.mockRestore();
    }
  });

  it('alerts with the failure group: new for the first of each cause, growing after (counted in memory)', async () => {
    await waitFor(() => alerts.length === 6, 'six alerts');
    const groups = await ops.failureGroups();
    const seen = alerts.map((a) =>
      a.kind === 'dead-letter' ? `${a.group?.errorName}:${a.group?.state}:${a.group?.count}` : a.kind,
    );
    expect(seen.filter((x) => x.startsWith('RangeError'))).toEqual([
      'RangeError:new:1',
      'RangeError:growing:2',
      'RangeError:growing:3',
    ]);
    expect(seen.filter((x) => x.startsWith('TypeError'))).toEqual([
      'TypeError:new:1',
      'TypeError:growing:2',
      'TypeError:growing:3',
    ]);
    expect(newOnly.map((a) => (a.kind === 'dead-letter' ? a.group?.id : '')).sort()).toEqual(
      groups.map((g) => g.id).sort(),
    );
    const first = alerts[0];
    expect(first.kind === 'dead-letter' && describeAlert(first)).toContain(
      `group=${first.kind === 'dead-letter' ? first.group?.id : ''} new count=1`,
    );
  });

  it('refuses a dry run without the outbox (no transaction to roll back), and still reads a journey from the dead letters', async () => {
    const [group] = await ops.failureGroups();
    await expect(ops.dryRun(group.ids[0])).rejects.toBeInstanceOf(DryRunUnavailableError);
    await expect(ops.dryRunGroup(group.id)).rejects.toThrow(/outbox/);
    const dl = group.example;
    const journey = await ops.journey(dl.messageId!);
    expect(journey.correlationId).toBe(dl.envelope!.correlationId);
    expect(journey.roots).toEqual([
      expect.objectContaining({
        id: dl.messageId,
        type: 'OpsOrderPlaced',
        deadLetters: [expect.objectContaining({ id: dl.id, subscriber: 'shipping' })],
      }),
    ]);
    await expect(ops.journey('')).rejects.toBeInstanceOf(InvalidJourneyQueryError);
  });

  it('refuses a purge with a wrong token, purges with the current one, and logs both with the actor', async () => {
    const [, carrier] = await ops.failureGroups();
    await expect(ops.purgeGroup(carrier.id, 'nope', 'alice')).rejects.toBeInstanceOf(PurgeTokenMismatchError);
    const token = await ops.purgeToken(carrier.id);
    expect(token).toMatch(/^[0-9a-f]{8}$/);
    expect(await ops.purgeGroup(carrier.id, token!, 'alice')).toBe(3);
    expect(await ops.failureGroup(carrier.id)).toBeUndefined();
    await expect(ops.purgeGroup(carrier.id, token!, 'alice')).rejects.toBeInstanceOf(FailureGroupNotFoundError);
    const lines = logger.lines.filter((l) => l.includes('operator alice'));
    expect(lines.some((l) => /purge of failure group .* refused/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes(`purged failure group ${carrier.id}`) && l.includes(': 3 of 3'))).toBe(true);
    expect(lines.join('\n')).not.toContain(token!);
  });

  it('retries one dead letter and then the rest of the group, to the subscriber that failed, after the fix', async () => {
    const [notFound] = await ops.failureGroups();
    state.broken = false;
    expect(await ops.retryOne(notFound.ids[0], 'bob')).toBe(1);
    expect(await ops.retryOne('no-such-id', 'bob')).toBe(0);
    await waitFor(() => state.shipped === 1, 'the retried one shipped');
    expect(await ops.retryGroup(notFound.id, 'bob')).toBe(2);
    await waitFor(() => state.shipped === 3, 'the group shipped');
    expect(await ops.failureGroups()).toEqual([]);
    await expect(ops.retryGroup(notFound.id, 'bob')).rejects.toBeInstanceOf(FailureGroupNotFoundError);
    expect(logger.lines.some((l) => l.includes('operator bob: retried failure group'))).toBe(true);
  });
});

describe('alerts and snapshots built by hand (as users do in their tests)', () => {
  it('type-check without the newer `group` and `inFlight`; an alert without a group is passed on', () => {
    const error = { name: 'Error', message: 'boom' };
    const alert: MessagingAlert = {
      kind: 'dead-letter',
      service: 'svc',
      subscriber: 'shipping',
      error,
      deadLetter: {
        id: '1',
        body: '{}',
        subscriber: 'shipping',
        sourceQueue: 'q',
        error,
        attempts: 1,
        firstFailureAt: 't',
        lastFailureAt: 't',
        deadLetteredAt: 't',
      },
    };
    const passed: MessagingAlert[] = [];
    void onlyNewFailureGroups((a) => void passed.push(a))(alert);
    expect(passed).toEqual([alert]);
    expect(describeAlert(alert)).not.toContain('group=');
    const snapshot: SubscriberSnapshot = {
      subscriber: 's',
      handled: 0,
      failed: 0,
      retried: 0,
      deadLettered: 0,
      duplicates: 0,
      durationMs: { p50: 0, p99: 0, max: 0 },
      lagMs: { p50: 0, p99: 0, max: 0 },
      currentLagMs: 0,
    };
    expect(snapshot.inFlight).toBeUndefined();
  });
});
