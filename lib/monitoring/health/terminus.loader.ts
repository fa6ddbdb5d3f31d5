/* eslint-disable @typescript-eslint/no-require-imports */

/** The part of a terminus `HealthIndicatorSession` we use. */
export interface HealthSession<R = Record<string, Record<string, unknown>>> {
  up(data?: Record<string, unknown>): R;
  down(data?: Record<string, unknown>): R;
}

type HealthIndicatorServiceCtor = new () => { check(key: string): HealthSession };

let cached: HealthIndicatorServiceCtor | null | undefined;

/**
 * A health session for `key`: terminus 11's `HealthIndicatorService.check(key)` when
 * `@nestjs/terminus` is installed (an optional peer dependency), else an equivalent that builds
 * the same `{ [key]: { status, ...details } }` result.
 */
export function healthSession(key: string): HealthSession {
  if (cached === undefined) {
    try {
      const terminus = require('@nestjs/terminus') as { HealthIndicatorService?: HealthIndicatorServiceCtor };
      cached = terminus.HealthIndicatorService ?? null;
    } catch {
      cached = null;
    }
  }
  if (cached) return new cached().check(key);
  return {
    up: (data) => ({ [key]: { ...data, status: 'up' } }),
    down: (data) => ({ [key]: { ...data, status: 'down' } }),
  };
}
