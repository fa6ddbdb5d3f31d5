import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { EventBus, Message, MessagingMonitor, Subscribe, SubscriberStats } from '../../lib';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';

/* The monitor's in-flight count per subscriber (the console's subscribers table shows it). */
@Message('OpsGated')
class Gated {
  constructor(readonly fail: boolean) {}
}

let open: () => void = () => undefined;
let gate = new Promise<void>((resolve) => (open = resolve));

@Injectable()
class Waiter {
  @Subscribe(Gated, { name: 'waiter', concurrency: 4, retry: { maxRetries: 0 } })
  async onGated(event: Gated) {
    await gate;
    if (event.fail) throw new Error('no');
  }
}

describe('in-flight deliveries per subscriber', () => {
  let app: TestingModule;
  const inFlight = async () =>
    (await app.get(MessagingMonitor).snapshot()).subscribers.find((s) => s.subscriber === 'waiter')?.inFlight;

  beforeAll(async () => {
    app = await startApp([Waiter], { serviceName: 'ops-inflight' });
  });
  afterAll(() => app?.close());

  it('counts deliveries being handled, and settles them whether handled or dead-lettered', async () => {
    expect(await inFlight()).toBe(0);
    for (const fail of [false, true, false]) await app.get(EventBus).publish(new Gated(fail));
    await waitFor(async () => (await inFlight()) === 3, 'three in flight');
    open();
    await waitFor(async () => (await inFlight()) === 0, 'none in flight');
    expect(app.get(SubscriberStats).snapshot()[0]).toMatchObject({ handled: 2, deadLettered: 1, inFlight: 0 });
    gate = new Promise<void>((resolve) => (open = resolve));
  });

  it('a subclass of SubscriberStats overriding the by-name calls still sees each start', () => {
    class Counting extends SubscriberStats {
      starts = 0;
      override started(subscriber: string): void {
        this.starts++;
        super.started(subscriber);
      }
      override handled(subscriber: string, d: number, l: number, dup: boolean, now?: number): void {
        super.handled(subscriber, d, l, dup, now);
      }
    }
    const stats = new Counting();
    const bound = stats.forSubscriber('s');
    bound.started?.();
    expect(stats.starts).toBe(1);
    expect(stats.snapshot()[0].inFlight).toBe(1);
    bound.handled(1, 1, false, Date.now());
    expect(stats.snapshot()[0].inFlight).toBe(0);
  });
});
