/**
 * Rounds and printing shared by the outbox and full-path benchmarks: each round runs max rate then
 * a fixed rate on every side (rounds alternate which side goes first), then medians over rounds.
 */
import type { Result } from './latency-clock';

/** The percentiles a benchmark prints. */
export type Percentile = 'p50' | 'p95' | 'p99';

/** Results per scenario of one side, one entry per round. */
export interface SideResults {
  max: Result[];
  fixed: Result[];
}

/** Hides the password of a connection URL. */
export const redact = (url: string) => url.replace(/:[^:@/]*@/, ':***@');

/** One run as printed per round: rate, count, duration and the chosen percentiles. */
export function formatResult(r: Result, percentiles: readonly Percentile[]): string {
  return (
    `${r.rate.toFixed(0).padStart(6)} msgs/s  (${r.msgs} in ${r.seconds.toFixed(2)} s)   ` +
    percentiles.map((p) => `${p} ${r[p].toFixed(1).padStart(6)} ms`).join('  ')
  );
}

/** Median; for an even count, the mean of the two middle values. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median; for an even count, the upper of the two middle values. */
export function upperMedian(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A side as the rounds drive it: background work only it needs can be paused while the others run. */
interface PausableSide {
  name: string;
  pause?(): Promise<void>;
  resume?(): void;
}

/** Only `side`'s background work runs while it is measured (the baseline's relay polls 100 times a second). */
async function runOnly<S extends PausableSide>(sides: S[], side: S): Promise<void> {
  for (const other of sides) if (other !== side) await other.pause?.();
  side.resume?.();
}

export interface RoundsOptions<S extends { name: string }> {
  rounds: number;
  /** Msgs/s of the fixed-rate scenario (for the printed label). */
  fixedRate: number;
  percentiles: readonly Percentile[];
  maxRate(side: S, seconds?: number): Promise<Result>;
  fixedRateRun(side: S): Promise<Result>;
  /** Before every measured run: e.g. empty every side's tables and take a checkpoint, so no side's leftovers (autovacuum, dirty pages) load the next run. */
  beforeRun?(): Promise<void>;
}

/** Warms every side up (1 s at max rate), then runs and prints the rounds; returns results by side name. */
export async function runRounds<S extends PausableSide>(
  sides: S[],
  o: RoundsOptions<S>,
): Promise<Record<string, SideResults>> {
  const results: Record<string, SideResults> = {};
  for (const side of sides) results[side.name] = { max: [], fixed: [] };
  const only = (side: S) => runOnly(sides, side);
  for (const side of sides) {
    await only(side);
    await o.maxRate(side, 1); // warm-up (JIT, connections, plans)
  }
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      await only(side);
      await o.beforeRun?.();
      const r = await o.maxRate(side);
      results[side.name].max.push(r);
      console.log(`round ${round + 1} max   ${side.name.padEnd(8)} ${formatResult(r, o.percentiles)}`);
    }
    for (const side of order) {
      await only(side);
      await o.beforeRun?.();
      const r = await o.fixedRateRun(side);
      results[side.name].fixed.push(r);
      console.log(`round ${round + 1} ${o.fixedRate}/s ${side.name.padEnd(8)} ${formatResult(r, o.percentiles)}`);
    }
  }
  return results;
}

/** Prints the medians over rounds per scenario and side (sides without results are skipped). */
export function printMedians(
  results: Record<string, SideResults>,
  names: readonly string[],
  o: { fixedRate: number; percentiles: readonly Percentile[]; median: (values: number[]) => number },
): void {
  console.log('\nmedians over rounds');
  for (const scenario of ['max', 'fixed'] as const) {
    for (const name of names) {
      const rs = results[name]?.[scenario] ?? [];
      if (rs.length === 0) continue;
      const of = (key: keyof Result) => o.median(rs.map((r) => r[key]));
      console.log(
        `${(scenario === 'max' ? 'max rate' : `${o.fixedRate} msgs/s`).padEnd(11)} ${name.padEnd(8)} ` +
          `${of('rate').toFixed(0).padStart(6)} msgs/s   ` +
          o.percentiles.map((p) => `${p} ${of(p).toFixed(1)} ms`).join('  '),
      );
    }
  }
}

/** The sustained-rate ladder: fixed rates rising by `factor`, each side run at each rung. */
export interface LadderOptions<S> {
  /** First rung, msgs/s. */
  start: number;
  /** Each rung is the previous one times this (e.g. 1.1). */
  factor: number;
  /** Seconds per run. */
  seconds: number;
  /** p99 commit → handled latency a run must stay under, ms. */
  maxP99Ms: number;
  run(side: S, rate: number, seconds: number): Promise<Result>;
  /** As `RoundsOptions.beforeRun`. */
  beforeRun?(): Promise<void>;
}

/**
 * The highest fixed rate each side sustains: at each rung (sides alternate which goes first) a run
 * passes when the writes kept to their schedule (the last handled within 0.5 s of the last write
 * due) and p99 latency stayed under `maxP99Ms`; a side stops at its first failed rung. Unlike the
 * max-rate figure, this does not depend on how much faster one side's writers fill its backlog.
 * Returns the last passed rung per side (0 when the first failed).
 */
export async function sustainedRates<S extends PausableSide>(
  sides: S[],
  o: LadderOptions<S>,
): Promise<Record<string, number>> {
  const passed: Record<string, number> = {};
  const active = new Set(sides);
  for (const side of sides) passed[side.name] = 0;
  for (let rung = 0, rate = o.start; active.size > 0; rung++, rate = Math.round(rate * o.factor)) {
    const order = rung % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      if (!active.has(side)) continue;
      await runOnly(sides, side);
      await o.beforeRun?.();
      const r = await o.run(side, rate, o.seconds);
      const ok = r.seconds <= o.seconds + 0.5 && r.p99 < o.maxP99Ms;
      console.log(
        `sustained ${String(rate).padStart(5)}/s ${side.name.padEnd(8)} ${ok ? 'kept up ' : 'fell behind'}  ` +
          `(${r.msgs} in ${r.seconds.toFixed(2)} s, p99 ${r.p99.toFixed(1)} ms)`,
      );
      if (ok) passed[side.name] = rate;
      else active.delete(side);
    }
  }
  return passed;
}
