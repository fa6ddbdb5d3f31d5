/** Counters and recent timings of one subscriber. */
export interface SubscriberStatsSnapshot {
  subscriber: string;
  /** Messages handled successfully (duplicates included). */
  handled: number;
  /** Redeliveries skipped by the inbox. */
  duplicates: number;
  /** Failed attempts (each retry and each dead letter counts one). */
  failed: number;
  retried: number;
  deadLettered: number;
  /** Handler duration over the recent window, ms. */
  durationMs: { p50: number; p99: number; max: number };
  /** Consumer lag (handling time − event time) over the recent window, ms. */
  lagMs: { p50: number; p99: number; max: number };
  /** When the subscriber last handled a message (ISO), if ever. */
  lastHandledAt?: string;
  /** Consumer lag of the last message handled, ms (0 before the first). */
  lastLagMs?: number;
  /** When the subscriber was registered or first seen (ISO). */
  registeredAt?: string;
  /** Deliveries received and not settled yet (being handled, or waiting for a commit group). */
  inFlight?: number;
}

/** Keeps the last `size` samples (a ring buffer). */
export class SampleWindow {
  private readonly values: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size = 1024) {
    this.values = new Float64Array(size);
  }

  add(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }

  /** p50, p99 and max of the window (zeros when empty). */
  summary(): { p50: number; p99: number; max: number } {
    if (this.count === 0) return { p50: 0, p99: 0, max: 0 };
    const sorted = Array.from(this.values.subarray(0, this.count)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]) };
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** What happens to one subscriber's messages, for an observer bound to that subscriber (`ConsumerObserver.forSubscriber`). */
export interface SubscriberObserver {
  /** Optional: a delivery arrived; exactly one of the calls below settles it. */
  started?(): void;
  /** A message was handled (or skipped as a duplicate); `now`: epoch ms when that was recorded. */
  handled(durationMs: number, lagMs: number, duplicate: boolean, now: number): void;
  /** An attempt failed and a retry was scheduled. */
  retried(): void;
  /** A message was dead-lettered. */
  deadLettered(): void;
  /** Optional: a delivery was given back to its queue unhandled (shutdown before its handler started). */
  returned?(): void;
}

/** Receives what happens in the consumer pipeline (metrics, tracing). */
export interface ConsumerObserver {
  /** Optional: a delivery of `subscriber` arrived; exactly one of the calls below settles it. */
  started?(subscriber: string): void;
  /** A message was handled (or skipped as a duplicate); `now`: epoch ms when that was recorded. */
  handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean, now?: number): void;
  /** An attempt of `subscriber` failed and a retry was scheduled. */
  retried(subscriber: string): void;
  /** A message of `subscriber` was dead-lettered. */
  deadLettered(subscriber: string): void;
  /** Optional: a delivery of `subscriber` was given back to its queue unhandled (shutdown before its handler started). */
  returned?(subscriber: string): void;
  /**
   * Optional: the same calls bound to one subscriber (asked once per subscriber and kept while the
   * observer stays registered), so the per-message path does no lookup by name. Without it the
   * calls above are used.
   */
  forSubscriber?(subscriber: string): SubscriberObserver;
}

/**
 * `observer` bound to `subscriber`: its own binding, or a forwarder to its by-name calls.
 * @internal
 */
export function bindObserver(observer: ConsumerObserver, subscriber: string): SubscriberObserver {
  if (observer.forSubscriber) return observer.forSubscriber(subscriber);
  return {
    ...(observer.started ? { started: () => observer.started!(subscriber) } : {}),
    handled: (durationMs, lagMs, duplicate, now) => observer.handled(subscriber, durationMs, lagMs, duplicate, now),
    retried: () => observer.retried(subscriber),
    deadLettered: () => observer.deadLettered(subscriber),
    ...(observer.returned ? { returned: () => observer.returned!(subscriber) } : {}),
  };
}

/** One subscriber's counters, and the extra observers bound to it. */
class Counters implements SubscriberObserver {
  handledCount = 0;
  duplicates = 0;
  retriedCount = 0;
  deadLetteredCount = 0;
  lastHandledAt = 0;
  lastLagMs = 0;
  readonly registeredAt = Date.now();
  readonly duration = new SampleWindow();
  readonly lag = new SampleWindow();
  /** `observers[i]` bound to this subscriber, rebound when the observers list changes. */
  private bound: SubscriberObserver[] = [];
  private boundTo: ConsumerObserver[] = [];

  constructor(
    private readonly subscriber: string,
    private readonly observers: ConsumerObserver[],
  ) {}

  /**
   * The bound observers, current with `observers` (which may be changed at any time); an observer
   * that stays registered keeps its binding. If binding throws, nothing is cached (asked again next time).
   */
  private sinks(): SubscriberObserver[] {
    const observers = this.observers;
    let same = observers.length === this.boundTo.length;
    for (let i = 0; same && i < observers.length; i++) same = observers[i] === this.boundTo[i];
    if (!same) {
      const bound = observers.map((o) => {
        const i = this.boundTo.indexOf(o);
        return i >= 0 ? this.bound[i] : bindObserver(o, this.subscriber);
      });
      this.bound = bound;
      this.boundTo = [...observers];
    }
    return this.bound;
  }

  /** Deliveries started and not settled. */
  inFlight = 0;

  started(): void {
    this.inFlight++;
    for (const o of this.sinks()) o.started?.();
  }

  private settled(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  handled(durationMs: number, lagMs: number, duplicate: boolean, now: number): void {
    this.settled();
    this.handledCount++;
    if (duplicate) this.duplicates++;
    this.lastHandledAt = now;
    this.lastLagMs = lagMs;
    this.duration.add(durationMs);
    this.lag.add(lagMs);
    for (const o of this.sinks()) o.handled(durationMs, lagMs, duplicate, now);
  }

  retried(): void {
    this.settled();
    this.retriedCount++;
    for (const o of this.sinks()) o.retried();
  }

  deadLettered(): void {
    this.settled();
    this.deadLetteredCount++;
    for (const o of this.sinks()) o.deadLettered();
  }

  returned(): void {
    this.settled();
    for (const o of this.sinks()) o.returned?.();
  }
}

/** In-process per-subscriber statistics; the default `ConsumerObserver`. */
export class SubscriberStats implements ConsumerObserver {
  private readonly bySubscriber = new Map<string, Counters>();
  /** Extra observers (Prometheus, tracing) notified after the counters; may be changed at any time. */
  readonly observers: ConsumerObserver[] = [];

  private lastSubscriber?: string;
  private lastCounters?: Counters;

  private of(subscriber: string): Counters {
    if (subscriber === this.lastSubscriber) return this.lastCounters!;
    let c = this.bySubscriber.get(subscriber);
    if (!c) this.bySubscriber.set(subscriber, (c = new Counters(subscriber, this.observers)));
    this.lastSubscriber = subscriber;
    this.lastCounters = c;
    return c;
  }

  /**
   * This subscriber's counters (registered if new), notifying the extra observers too. A subclass
   * that overrides `handled`, `retried` or `deadLettered` gets its by-name methods called instead.
   */
  forSubscriber(subscriber: string): SubscriberObserver {
    const base = SubscriberStats.prototype;
    if (this.handled !== base.handled || this.retried !== base.retried || this.deadLettered !== base.deadLettered) {
      return bindObserver(
        {
          started: this.started.bind(this),
          handled: this.handled.bind(this),
          retried: this.retried.bind(this),
          deadLettered: this.deadLettered.bind(this),
          returned: this.returned.bind(this),
        },
        subscriber,
      );
    }
    return this.of(subscriber);
  }

  /** Counts a delivery of `subscriber` that arrived (in flight until handled, retried or dead-lettered). */
  started(subscriber: string): void {
    this.of(subscriber).started();
  }

  /** Counts a handled message (or a duplicate skipped) of `subscriber`. */
  handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean, now = Date.now()): void {
    this.of(subscriber).handled(durationMs, lagMs, duplicate, now);
  }

  /** Counts a failed attempt of `subscriber` scheduled for a retry. */
  retried(subscriber: string): void {
    this.of(subscriber).retried();
  }

  /** Counts a dead-lettered message of `subscriber`. */
  deadLettered(subscriber: string): void {
    this.of(subscriber).deadLettered();
  }

  /** A delivery of `subscriber` given back unhandled at shutdown: no longer in flight, counted nowhere else. */
  returned(subscriber: string): void {
    this.of(subscriber).returned();
  }

  /** Registers a subscriber so it shows (with zeros) before its first message. */
  register(subscriber: string): void {
    this.of(subscriber);
  }

  /** Names of the subscribers known so far. */
  subscribers(): string[] {
    return [...this.bySubscriber.keys()];
  }

  /** A snapshot of every subscriber. */
  snapshot(): SubscriberStatsSnapshot[] {
    return [...this.bySubscriber.entries()].map(([subscriber, c]) => ({
      subscriber,
      handled: c.handledCount,
      duplicates: c.duplicates,
      failed: c.retriedCount + c.deadLetteredCount,
      retried: c.retriedCount,
      deadLettered: c.deadLetteredCount,
      durationMs: c.duration.summary(),
      lagMs: c.lag.summary(),
      lastHandledAt: c.lastHandledAt ? new Date(c.lastHandledAt).toISOString() : undefined,
      lastLagMs: round(c.lastLagMs),
      registeredAt: new Date(c.registeredAt).toISOString(),
      inFlight: c.inFlight,
    }));
  }
}
