import { SubscriberStats, type ConsumerObserver, type SubscriberObserver } from '../../lib';

/** An observer that records its by-name calls, optionally with a binding of its own. */
function recorder(withBinding: boolean) {
  const calls: string[] = [];
  const observer: ConsumerObserver = {
    handled: (subscriber, durationMs, lagMs, duplicate) =>
      calls.push(`handled ${subscriber} ${durationMs} ${lagMs} ${duplicate}`),
    retried: (subscriber) => calls.push(`retried ${subscriber}`),
    deadLettered: (subscriber) => calls.push(`deadLettered ${subscriber}`),
  };
  if (withBinding) {
    observer.forSubscriber = (subscriber): SubscriberObserver => ({
      handled: (durationMs, lagMs, duplicate) => calls.push(`bound ${subscriber} ${durationMs} ${lagMs} ${duplicate}`),
      retried: () => calls.push(`bound retried ${subscriber}`),
      deadLettered: () => calls.push(`bound deadLettered ${subscriber}`),
    });
  }
  return { observer, calls };
}

describe('SubscriberStats', () => {
  it('counts per subscriber through its binding and the by-name calls alike', () => {
    const stats = new SubscriberStats();
    const a = stats.forSubscriber('A');
    a.handled(2, 5, false, Date.now());
    a.handled(3, 7, true, Date.now());
    stats.handled('B', 1, 1, false);
    stats.retried('A');
    a.deadLettered();
    const byName = Object.fromEntries(stats.snapshot().map((s) => [s.subscriber, s]));
    expect(byName.A).toMatchObject({ handled: 2, duplicates: 1, retried: 1, deadLettered: 1, failed: 2, lastLagMs: 7 });
    expect(byName.B).toMatchObject({ handled: 1, duplicates: 0, failed: 0 });
    expect(stats.subscribers()).toEqual(['A', 'B']);
  });

  it('notifies the extra observers as the list is at each call, bound once per subscriber', () => {
    const stats = new SubscriberStats();
    const a = stats.forSubscriber('A'); // bound before any observer exists
    const plain = recorder(false);
    const binding = recorder(true);
    let bindings = 0;
    const bind = binding.observer.forSubscriber!;
    binding.observer.forSubscriber = (s) => (bindings++, bind(s));

    a.handled(1, 2, false, 0);
    stats.observers.push(plain.observer);
    a.handled(3, 4, true, 0);
    stats.observers.push(binding.observer);
    a.handled(5, 6, false, 0);
    a.retried();
    stats.deadLettered('A');
    expect(plain.calls).toEqual(['handled A 3 4 true', 'handled A 5 6 false', 'retried A', 'deadLettered A']);
    expect(binding.calls).toEqual(['bound A 5 6 false', 'bound retried A', 'bound deadLettered A']);
    expect(bindings).toBe(1);
    stats.observers.push(recorder(false).observer); // the list changes: a registered observer keeps its binding
    a.handled(5, 6, false, 0);
    expect(bindings).toBe(1);
    stats.observers.pop();

    // replaced in place (same length): the new one is called, the old one no more
    const replacement = recorder(false);
    stats.observers[0] = replacement.observer;
    a.handled(7, 8, false, 0);
    expect(replacement.calls).toEqual(['handled A 7 8 false']);
    expect(plain.calls).toHaveLength(5);
    stats.observers.length = 0;
    a.handled(9, 9, false, 0);
    expect(replacement.calls).toHaveLength(1);
    expect(stats.snapshot()[0].handled).toBe(6);
  });

  it('asks a throwing binding again next time, and counts meanwhile', () => {
    const stats = new SubscriberStats();
    const a = stats.forSubscriber('A');
    const flaky = recorder(true);
    const bind = flaky.observer.forSubscriber!;
    let fail = true;
    flaky.observer.forSubscriber = (s) => {
      if (fail) throw new Error('not yet');
      return bind(s);
    };
    stats.observers.push(flaky.observer);
    expect(() => a.handled(1, 1, false, 0)).toThrow('not yet');
    fail = false;
    a.handled(2, 2, false, 0);
    expect(flaky.calls).toEqual(['bound A 2 2 false']);
    expect(stats.snapshot()[0].handled).toBe(2);
  });

  it('a subclass overriding the by-name methods is called through the binding too', () => {
    const seen: string[] = [];
    class AuditedStats extends SubscriberStats {
      override handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean, now?: number) {
        seen.push(`handled ${subscriber}`);
        super.handled(subscriber, durationMs, lagMs, duplicate, now);
      }
    }
    const stats = new AuditedStats();
    const a = stats.forSubscriber('A');
    a.handled(1, 1, false, 0);
    a.retried();
    expect(seen).toEqual(['handled A']);
    expect(stats.snapshot()[0]).toMatchObject({ handled: 1, retried: 1 });
  });
});
