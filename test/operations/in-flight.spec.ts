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

@Message('OpsSettleOnce')
class Job {
  constructor(readonly wait: boolean) {}
}

let openJobs: () => void = () => undefined;
const jobGate = new Promise<void>((resolve) => (openJobs = resolve));

@Injectable()
class Jobs {
  @Subscribe(Job, { name: 'jobs', concurrency: 4, retry: { maxRetries: 0 } })
  async onJob(job: Job) {
    if (job.wait) await jobGate;
  }
}

describe('in-flight count when an observer throws on handled', () => {
  let app: TestingModule;
  beforeAll(async () => {
    app = await startApp([Jobs], { serviceName: 'ops-settle-once' });
  });
  afterAll(() => app?.close());

  it('settles each delivery once: a failing sink does not decrement it a second time', async () => {
    const stats = app.get(SubscriberStats);
    let failures = 0;
    stats.observers.push({
      handled: () => {
        if (failures++ === 0) throw new Error('sink down'); // the pipeline then fails the delivery
      },
      retried: () => undefined,
      deadLettered: () => undefined,
    });
    const jobs = () => stats.snapshot().find((s) => s.subscriber === 'jobs')!;
    await app.get(EventBus).publish(new Job(true)); // stays in flight until the gate opens
    await waitFor(async () => jobs().inFlight === 1, 'one in flight');
    await app.get(EventBus).publish(new Job(false)); // handled, then the sink throws
    await waitFor(async () => failures === 1, 'the sink failed once');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(jobs()).toMatchObject({ handled: 1, inFlight: 1 }); // the gated one is still in flight
    openJobs();
    await waitFor(async () => jobs().inFlight === 0 && jobs().handled === 2, 'all settled');
    expect(jobs().deadLettered).toBe(0); // the failed delivery settled as handled, once
  });
});
