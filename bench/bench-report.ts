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

export interface RoundsOptions<S extends { name: string }> {
  rounds: number;
  /** Msgs/s of the fixed-rate scenario (for the printed label). */
  fixedRate: number;
  percentiles: readonly Percentile[];
  maxRate(side: S, seconds?: number): Promise<Result>;
  fixedRateRun(side: S): Promise<Result>;
}

/** Warms every side up (1 s at max rate), then runs and prints the rounds; returns results by side name. */
export async function runRounds<S extends { name: string; pause?(): Promise<void>; resume?(): void }>(
  sides: S[],
  o: RoundsOptions<S>,
): Promise<Record<string, SideResults>> {
  const results: Record<string, SideResults> = {};
  for (const side of sides) results[side.name] = { max: [], fixed: [] };
  // only the measured side's background work runs (the baseline's relay polls 100 times a second)
  const only = async (side: S) => {
    for (const other of sides) if (other !== side) await other.pause?.();
    side.resume?.();
  };
  for (const side of sides) {
    await only(side);
    await o.maxRate(side, 1); // warm-up (JIT, connections, plans)
  }
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      await only(side);
      const r = await o.maxRate(side);
      results[side.name].max.push(r);
      console.log(`round ${round + 1} max   ${side.name.padEnd(8)} ${formatResult(r, o.percentiles)}`);
    }
    for (const side of order) {
      await only(side);
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
