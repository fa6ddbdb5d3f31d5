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

/** Receives what happens in the consumer pipeline (metrics, tracing). */
export interface ConsumerObserver {
  /** A message was handled (or skipped as a duplicate); `now`: epoch ms when that was recorded. */
  handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean, now?: number): void;
  retried(subscriber: string): void;
  deadLettered(subscriber: string): void;
}

class Counters {
  handled = 0;
  duplicates = 0;
  retried = 0;
  deadLettered = 0;
  lastHandledAt = 0;
  lastLagMs = 0;
  readonly registeredAt = Date.now();
  readonly duration = new SampleWindow();
  readonly lag = new SampleWindow();
}

/** In-process per-subscriber statistics; the default `ConsumerObserver`. */
export class SubscriberStats implements ConsumerObserver {
  private readonly bySubscriber = new Map<string, Counters>();
  /** Extra observers (Prometheus, tracing) notified after the counters. */
  readonly observers: ConsumerObserver[] = [];

  private lastSubscriber?: string;
  private lastCounters?: Counters;

  private of(subscriber: string): Counters {
    if (subscriber === this.lastSubscriber) return this.lastCounters!;
    let c = this.bySubscriber.get(subscriber);
    if (!c) this.bySubscriber.set(subscriber, (c = new Counters()));
    this.lastSubscriber = subscriber;
    this.lastCounters = c;
    return c;
  }

  handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean, now = Date.now()): void {
    const c = this.of(subscriber);
    c.handled++;
    if (duplicate) c.duplicates++;
    c.lastHandledAt = now;
    c.lastLagMs = lagMs;
    c.duration.add(durationMs);
    c.lag.add(lagMs);
    for (const o of this.observers) o.handled(subscriber, durationMs, lagMs, duplicate, now);
  }

  retried(subscriber: string): void {
    this.of(subscriber).retried++;
    for (const o of this.observers) o.retried(subscriber);
  }

  deadLettered(subscriber: string): void {
    this.of(subscriber).deadLettered++;
    for (const o of this.observers) o.deadLettered(subscriber);
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
      handled: c.handled,
      duplicates: c.duplicates,
      failed: c.retried + c.deadLettered,
      retried: c.retried,
      deadLettered: c.deadLettered,
      durationMs: c.duration.summary(),
      lagMs: c.lag.summary(),
      lastHandledAt: c.lastHandledAt ? new Date(c.lastHandledAt).toISOString() : undefined,
      lastLagMs: round(c.lastLagMs),
      registeredAt: new Date(c.registeredAt).toISOString(),
    }));
  }
}
