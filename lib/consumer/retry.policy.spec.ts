import {
  DEFAULT_RETRY_POLICY,
  baseDelay,
  isPermanentFailure,
  resolveRetryPolicy,
  retryDelay,
  retryDelayLevels,
} from './retry.policy';
import { InvalidMessageError } from '../errors/invalid-message.error';

describe('retry policy', () => {
  it('backs off exponentially from the defaults, capped', () => {
    expect([1, 2, 3].map((r) => baseDelay(DEFAULT_RETRY_POLICY, r))).toEqual([1000, 2000, 4000]);
    const capped = resolveRetryPolicy(DEFAULT_RETRY_POLICY, { maxRetries: 10, maxDelayMs: 5000 }, 'retry');
    expect(baseDelay(capped, 8)).toBe(5000);
    expect(retryDelayLevels(capped)).toEqual([1000, 1200, 2000, 2400, 4000, 4800, 5000]);
    expect(
      Math.max(...Array.from({ length: 50 }, (_, i) => retryDelay(capped, 1 + (i % 8), i / 50))),
    ).toBeLessThanOrEqual(5000);
  });

  it('spreads delays by the jitter fraction', () => {
    expect(retryDelay(DEFAULT_RETRY_POLICY, 2, 0)).toBe(1600);
    expect(retryDelay(DEFAULT_RETRY_POLICY, 2, 0.5)).toBe(2000);
    expect(retryDelay(DEFAULT_RETRY_POLICY, 2, 0.999999)).toBe(2400);
  });

  it('classifies permanent errors: marker, configured classes, predicate', () => {
    class Fatal extends Error {}
    const policy = resolveRetryPolicy(
      DEFAULT_RETRY_POLICY,
      { permanentErrors: [Fatal], isPermanent: (e) => (e as Error).message === 'gone' },
      'retry',
    );
    expect(isPermanentFailure(policy, new InvalidMessageError('X', []))).toBe(true);
    expect(isPermanentFailure(policy, new Fatal('x'))).toBe(true);
    expect(isPermanentFailure(policy, new Error('gone'))).toBe(true);
    expect(isPermanentFailure(policy, new Error('timeout'))).toBe(false);
    expect(isPermanentFailure(policy, 'a string')).toBe(false);
  });

  it('names the bad option', () => {
    expect(() => resolveRetryPolicy(DEFAULT_RETRY_POLICY, { multiplier: 0.5 }, '@Subscribe on A.b: retry')).toThrow(
      '@Subscribe on A.b: retry.multiplier must be a number from 1 to 100',
    );
  });
});
