/**
 * Latency bookkeeping and load pacing shared by the outbox and full-path benchmarks.
 * Latency = a writer is about to BEGIN its transaction → the subscriber's transaction that handled
 * the message committed.
 */
import { performance } from 'node:perf_hooks';

/** Start and handled times per message key (an id or event key); collects the latencies. */
export class Clock {
  private starts = new Map<string, number>();
  /** With BENCH_STAGES=1: when each key passed each stage (`mark`), and the time between stages. */
  private marks = new Map<string, number[]>();
  readonly stageNames: string[] = [];
  readonly stageTimes: number[][] = [];
  latencies: number[] = [];
  handled = 0;
  lastHandledAt = 0;
  private waiter?: { n: number; resolve: () => void };

  /** A writer is about to begin the transaction that writes `key` (before BEGIN). */
  started(key: string): void {
    this.starts.set(key, performance.now());
  }

  /** `key` passed stage `index` (named `name`): only recorded with BENCH_STAGES=1. */
  mark(key: string, index: number, name: string): void {
    if (!STAGES) return;
    this.stageNames[index] = name;
    let m = this.marks.get(key);
    if (!m) this.marks.set(key, (m = []));
    m[index] = performance.now();
  }

  /** The subscriber's transaction for `key` committed. */
  done(key: string): void {
    const now = performance.now();
    const at = this.starts.get(key);
    if (at !== undefined) {
      this.starts.delete(key);
      this.latencies.push(now - at);
      const m = this.marks.get(key);
      if (m) {
        this.marks.delete(key);
        let prev = at;
        for (let i = 0; i <= m.length; i++) {
          const t = i < m.length ? m[i] : now;
          if (t === undefined) continue;
          (this.stageTimes[i] ??= []).push(t - prev);
          prev = t;
        }
      }
    }
    this.handled++;
    this.lastHandledAt = now;
    if (this.waiter && this.handled >= this.waiter.n) this.waiter.resolve();
  }

  /** Resolves once `n` messages were handled; rejects after `timeoutMs` if one is given. */
  waitFor(n: number, timeoutMs?: number): Promise<void> {
    if (this.handled >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(
              () => reject(new Error(`only ${this.handled} of ${n} handled after ${timeoutMs} ms`)),
              timeoutMs,
            );
      this.waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  }
}

/** One run: messages, seconds until the last was handled, msgs/s and latency percentiles (ms). */
export interface Result {
  msgs: number;
  seconds: number;
  rate: number;
  p50: number;
  p95: number;
  p99: number;
}

const STAGES = process.env.BENCH_STAGES === '1';

/** With BENCH_STAGES=1: p50/p99 of the time spent between consecutive stages of a run. */
export function stageReport(clock: Clock): string | undefined {
  if (!STAGES || clock.stageTimes.length === 0) return undefined;
  return clock.stageTimes
    .map((times, i) => {
      const sorted = times.slice().sort((a, b) => a - b);
      const name = `${i === 0 ? 'begin' : clock.stageNames[i - 1]}→${clock.stageNames[i] ?? 'done'}`;
      return `${name} p50 ${percentile(sorted, 50).toFixed(1)} p99 ${percentile(sorted, 99).toFixed(1)}`;
    })
    .join(' | ');
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Summarizes a run of `msgs` messages started at `startedAt` (performance.now()). */
export function summarize(clock: Clock, msgs: number, startedAt: number): Result {
  const stages = stageReport(clock);
  if (stages) console.log(`  stages (ms): ${stages}`);
  const sorted = clock.latencies.slice().sort((a, b) => a - b);
  const seconds = (clock.lastHandledAt - startedAt) / 1000;
  return {
    msgs,
    seconds,
    rate: msgs / seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
}

/** What a scenario drives: one side of a benchmark. */
export interface Load {
  /** Concurrent writers (max rate) or writes in flight at most (fixed rate). */
  writers: number;
  /** Empties the side's tables before a run. */
  reset(): Promise<void>;
  /** Installs a fresh clock for the run (where the side reports commits and handled) and returns it. */
  newClock(): Clock;
  /** Writes one message in its own transaction; the side reports its commit on the clock. */
  writeOne(): Promise<void>;
  /** Passed to `Clock.waitFor` when draining (none: wait indefinitely). */
  drainTimeoutMs?: number;
}

/** Writers flat out for `seconds`, then drain; msgs/s = messages / time until the last was handled. */
export async function maxRate(load: Load, seconds: number): Promise<Result> {
  await load.reset();
  const clock = load.newClock();
  let written = 0;
  const startedAt = performance.now();
  const until = startedAt + seconds * 1000;
  await Promise.all(
    Array.from({ length: load.writers }, async () => {
      while (performance.now() < until) {
        await load.writeOne();
        written++;
      }
    }),
  );
  await clock.waitFor(written, load.drainTimeoutMs);
  return summarize(clock, written, startedAt);
}

/** Open loop: `rate` writes per second for `seconds` (at most `writers` in flight), then drain. */
export async function fixedRate(load: Load, rate: number, seconds: number): Promise<Result> {
  await load.reset();
  const clock = load.newClock();
  const total = rate * seconds;
  const startedAt = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const due = startedAt + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= load.writers) await Promise.race(inFlight);
    const p: Promise<void> = load.writeOne().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  await clock.waitFor(total, load.drainTimeoutMs);
  return summarize(clock, total, startedAt);
}
