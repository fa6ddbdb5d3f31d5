import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { assertKnownKeys } from '../config/known-keys';

/** How a subscriber retries a failed message. Every field has a default. */
export interface RetryPolicyOptions {
  /** Retries after the first attempt; 0 = no retry. Default 3. */
  maxRetries?: number;
  /** Delay before the first retry, ms. Default 1000. */
  initialDelayMs?: number;
  /** Each further retry waits this many times longer. Default 2. */
  multiplier?: number;
  /** Upper bound of one delay, ms. Default 60000. */
  maxDelayMs?: number;
  /**
   * Random spread applied to each delay, as a fraction: 0.2 means ±20 %. Default 0.2.
   * (The RabbitMQ transport without outbox rounds delays to fixed TTL levels.)
   */
  jitter?: number;
  /** Error classes that are never retried (validation and decoding errors always are permanent). */
  permanentErrors?: Array<abstract new (...args: any[]) => Error>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Decides permanence for other errors: return true to dead-letter at once. */
  isPermanent?: (error: unknown) => boolean;
}

/** A policy with every default filled in. */
export type ResolvedRetryPolicy = Required<Omit<RetryPolicyOptions, 'isPermanent'>> &
  Pick<RetryPolicyOptions, 'isPermanent'>;

/** The defaults: 3 retries, 1 s, ×2, capped at 60 s, ±20 % jitter. */
export const DEFAULT_RETRY_POLICY: ResolvedRetryPolicy = {
  maxRetries: 3,
  initialDelayMs: 1000,
  multiplier: 2,
  maxDelayMs: 60_000,
  jitter: 0.2,
  permanentErrors: [],
};

function check(ok: boolean, where: string, what: string): void {
  if (!ok) throw new InvalidConfigurationError(`${where} ${what}`);
}

/** Merges `override` over `base`, validating each field; `where` names the option in errors. */
export function resolveRetryPolicy(
  base: ResolvedRetryPolicy,
  override: RetryPolicyOptions | undefined,
  where: string,
): ResolvedRetryPolicy {
  if (override === undefined) return base;
  if (override === null || typeof override !== 'object')
    throw new InvalidConfigurationError(`${where} must be an object`);
  assertKnownKeys(
    override,
    ['maxRetries', 'initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter', 'permanentErrors', 'isPermanent'],
    where,
  );
  const p: ResolvedRetryPolicy = { ...base, ...stripUndefined(override) };
  const int = (n: number) => Number.isInteger(n) && n >= 0;
  check(int(p.maxRetries) && p.maxRetries <= 100, `${where}.maxRetries`, 'must be an integer from 0 to 100');
  check(int(p.initialDelayMs), `${where}.initialDelayMs`, 'must be an integer >= 0 (milliseconds)');
  check(
    typeof p.multiplier === 'number' && p.multiplier >= 1 && p.multiplier <= 100,
    `${where}.multiplier`,
    'must be a number from 1 to 100',
  );
  check(
    int(p.maxDelayMs) && p.maxDelayMs >= p.initialDelayMs,
    `${where}.maxDelayMs`,
    'must be an integer >= initialDelayMs',
  );
  check(
    typeof p.jitter === 'number' && p.jitter >= 0 && p.jitter <= 1,
    `${where}.jitter`,
    'must be a number from 0 to 1',
  );
  check(Array.isArray(p.permanentErrors), `${where}.permanentErrors`, 'must be an array of error classes');
  check(
    p.isPermanent === undefined || typeof p.isPermanent === 'function',
    `${where}.isPermanent`,
    'must be a function',
  );
  return p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** The delay before retry number `retry` (1-based), without jitter. */
export function baseDelay(policy: ResolvedRetryPolicy, retry: number): number {
  const raw = policy.initialDelayMs * Math.pow(policy.multiplier, retry - 1);
  return Math.min(policy.maxDelayMs, Math.round(raw));
}

/** The delay before retry number `retry`, with jitter (`random` in [0, 1) is for tests). */
export function retryDelay(policy: ResolvedRetryPolicy, retry: number, random: number = Math.random()): number {
  const base = baseDelay(policy, retry);
  const spread = base * policy.jitter * (random * 2 - 1);
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(base + spread)));
}

/**
 * The delay levels a broker should declare for this policy: each retry's base delay and its jitter
 * ceiling (a transport rounds a requested delay up to the nearest level, so jittered delays spread
 * over two levels per retry and never need a level declared on demand).
 */
export function retryDelayLevels(policy: ResolvedRetryPolicy): number[] {
  const levels = new Set<number>();
  for (let r = 1; r <= policy.maxRetries; r++) {
    const base = baseDelay(policy, r);
    levels.add(base);
    levels.add(Math.min(policy.maxDelayMs, Math.round(base * (1 + policy.jitter))));
  }
  return [...levels].sort((a, b) => a - b);
}

/** Whether `error` must not be retried under `policy`. */
export function isPermanentFailure(policy: ResolvedRetryPolicy, error: unknown): boolean {
  if (error !== null && typeof error === 'object' && (error as { permanent?: unknown }).permanent === true) return true;
  for (const cls of policy.permanentErrors) if (error instanceof cls) return true;
  return policy.isPermanent ? policy.isPermanent(error) === true : false;
}
