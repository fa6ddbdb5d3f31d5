import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { EventBus, MessageBusyError, MessagingTestHarness, MessagingTestingModule, Subscribe } from '../../lib';

// A delivery that finds its message busy elsewhere (another delivery holds the inbox row: a
// redelivery after a connection drop, a competing consumer) has not failed: it is retried without
// using up an attempt, so it never dead-letters for it while a holder can still exist.

let busyFor = 0;
const handled: string[] = [];

@Injectable()
class Billing {
  @Subscribe('busy.OrderPlaced', {
    name: 'billing',
    timeoutMs: 100,
    retry: { maxRetries: 0, initialDelayMs: 10, maxDelayMs: 10, jitter: 0 },
  })
  bill(event: { id: string }): void {
    if (busyFor > 0) {
      busyFor--;
      throw new MessageBusyError(event.id, 'billing', 100);
    }
    if (busyFor < 0) throw new MessageBusyError(event.id, 'billing', 100); // busy for good
    handled.push(event.id);
  }
}

describe('a message busy elsewhere', () => {
  let app: TestingModule;
  beforeEach(async () => {
    handled.length = 0;
    app = await Test.createTestingModule({
      imports: [MessagingTestingModule.forRoot({ serviceName: 'busy', immediateRetries: false })],
      providers: [Billing],
    }).compile();
    await app.init();
  });
  afterEach(() => app.close());

  it('is retried without using up attempts (maxRetries 0), then handled', async () => {
    busyFor = 3;
    await app.get(EventBus).publish({ type: 'busy.OrderPlaced', id: 'o-1' });
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    expect(handled).toEqual(['o-1']);
    expect(harness.deliveries().map((d) => [d.attempt, d.outcome])).toEqual([
      [1, 'retried'],
      [1, 'retried'],
      [1, 'retried'],
      [1, 'handled'],
    ]);
    expect(harness.deadLettered()).toEqual([]);
  });

  it('counts again once no holder can still exist (10 handler timeouts), and dead-letters then', async () => {
    busyFor = -1;
    await app.get(EventBus).publish({ type: 'busy.OrderPlaced', id: 'o-2' });
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle(10_000);
    const [letter] = harness.deadLettered();
    expect(letter).toMatchObject({ attempts: 1, error: { name: 'MessageBusyError' } });
    const busyRetries = harness.deliveries().filter((d) => d.outcome === 'retried').length;
    // retried every ~10 ms for about 1 s (10 × the 100 ms timeout): many times, but not forever
    expect(busyRetries).toBeGreaterThan(10);
    expect(new Date(letter.lastFailureAt).getTime() - new Date(letter.firstFailureAt).getTime()).toBeGreaterThanOrEqual(
      1_000,
    );
    expect(handled).toEqual([]);
  });
});
