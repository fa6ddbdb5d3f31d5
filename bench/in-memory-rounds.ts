/**
 * What both sides of the in-memory benchmark share: counting handler calls and timing one round.
 * No import of the library here: the cqrs side runs in a process of its own without it.
 */
import { performance } from 'node:perf_hooks';

/** Counts handler invocations and lets a round wait until a given count is reached. */
export class HitCounter {
  count = 0;
  private target = Infinity;
  private resolve?: () => void;

  hit(): void {
    if (++this.count >= this.target && this.resolve) {
      const r = this.resolve;
      this.resolve = undefined;
      this.target = Infinity;
      r();
    }
  }

  until(target: number): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.target = target;
      this.resolve = resolve;
    });
  }
}

/** Runs `n` ops and returns elapsed ms. */
export type Round = (n: number) => Promise<number>;

/** The event both sides publish, by shape (each side declares its own class). */
export type EventFactory = (i: number) => object;

export function sequentialRequests(execute: (i: number) => Promise<unknown>): Round {
  return async (n) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await execute(i);
    return performance.now() - t0;
  };
}

/** `await publish()` one after another; the clock stops when all N × subscribers handler calls ran. */
export function sequentialEvents(publish: (i: number) => unknown, hits: HitCounter, subscribers: number): Round {
  return async (n) => {
    const target = hits.count + n * subscribers;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await publish(i);
    await hits.until(target);
    return performance.now() - t0;
  };
}

/**
 * Publishes in windows of PIPELINE_WINDOW without awaiting each one. (Not one unbounded burst:
 * cqrs' rxjs `mergeMap` removes each finished inner subscription with an array search, so N
 * outstanding handler promises cost it O(N²) and would flatter us.)
 */
export const PIPELINE_WINDOW = 64;
export function pipelinedEvents(publish: (i: number) => unknown, hits: HitCounter, subscribers: number): Round {
  return async (n) => {
    const target = hits.count + n * subscribers;
    const t0 = performance.now();
    const pending: unknown[] = new Array(PIPELINE_WINDOW);
    for (let i = 0; i < n;) {
      const end = Math.min(n, i + PIPELINE_WINDOW);
      pending.length = end - i;
      for (let k = 0; i < end; i++, k++) pending[k] = publish(i);
      await Promise.all(pending);
    }
    await hits.until(target);
    return performance.now() - t0;
  };
}

/** Scenario names both processes know. */
export type ScenarioKey =
  | 'command'
  | 'query'
  | 'event1-async'
  | 'event3-async'
  | 'event1-sync'
  | 'event3-sync'
  | 'event1-async-pipelined'
  | 'event3-async-pipelined';

/** Parent → cqrs process: run one round. */
export interface RoundRequest {
  key: ScenarioKey;
  n: number;
}
/** cqrs process → parent: elapsed ms of the round, or `ready` once its apps started. */
export type RoundReply = { ms: number } | { ready: true; version: string };
