import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import type {
  MonitoringOptions,
  MonitoringThresholds,
  ResolvedMonitoringOptions,
  ThresholdName,
} from './monitoring-options.interface';

/** Default buckets of `messaging_handler_duration_seconds` (1 ms to 30 s). */
export const DEFAULT_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Default buckets of `messaging_consumer_lag_seconds` (10 ms to 1 h). */
export const DEFAULT_LAG_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** Default interval of the threshold check timer when alerts are wired, ms. */
export const DEFAULT_CHECK_INTERVAL_MS = 30_000;

const THRESHOLDS: ThresholdName[] = ['maxOutboxAgeMs', 'maxDeadLetters', 'maxConsumerLagMs', 'maxQueueDepth'];

/** Checks thresholds (non-negative finite numbers, known names); throws `InvalidConfigurationError`. */
export function checkThresholds(thresholds: unknown, where: string): MonitoringThresholds {
  if (thresholds === undefined) return {};
  if (typeof thresholds !== 'object' || thresholds === null) {
    throw new InvalidConfigurationError(`${where} must be an object with ${THRESHOLDS.join(', ')}`);
  }
  const out: MonitoringThresholds = {};
  for (const [key, value] of Object.entries(thresholds)) {
    if (!THRESHOLDS.includes(key as ThresholdName)) {
      throw new InvalidConfigurationError(`unknown threshold ${where}.${key}; accepted: ${THRESHOLDS.join(', ')}`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidConfigurationError(`${where}.${key} must be a number ≥ 0, got ${JSON.stringify(value)}`);
    }
    out[key as ThresholdName] = value;
  }
  return out;
}

function buckets(value: unknown, name: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((v, i) => typeof v !== 'number' || !(v > 0) || (i > 0 && v <= value[i - 1]))
  ) {
    throw new InvalidConfigurationError(`monitoring.prometheus.${name} must be increasing positive numbers`);
  }
  return value;
}

/** Fills defaults and checks the `monitoring` option (undefined = defaults). */
export function resolveMonitoringOptions(options: MonitoringOptions | undefined): ResolvedMonitoringOptions {
  const o = options ?? {};
  if (typeof o !== 'object') throw new InvalidConfigurationError('monitoring must be an object');
  const thresholds = checkThresholds(o.thresholds, 'monitoring.thresholds');
  if (o.onAlert !== undefined && typeof o.onAlert !== 'function') {
    throw new InvalidConfigurationError('monitoring.onAlert must be a function (alert) => void');
  }
  const wantsTimer = o.onAlert !== undefined && Object.keys(thresholds).length > 0;
  const checkIntervalMs = o.checkIntervalMs ?? (wantsTimer ? DEFAULT_CHECK_INTERVAL_MS : 0);
  if (typeof checkIntervalMs !== 'number' || !Number.isInteger(checkIntervalMs) || checkIntervalMs < 0) {
    throw new InvalidConfigurationError(
      `monitoring.checkIntervalMs must be an integer ≥ 0, got ${JSON.stringify(o.checkIntervalMs)}`,
    );
  }
  const prom = typeof o.prometheus === 'object' ? o.prometheus : { enabled: o.prometheus !== false };
  const tracing = typeof o.tracing === 'object' ? o.tracing : { enabled: o.tracing !== false };
  if (tracing.tracerName !== undefined && (typeof tracing.tracerName !== 'string' || tracing.tracerName === '')) {
    throw new InvalidConfigurationError('monitoring.tracing.tracerName must be a non-empty string');
  }
  return {
    thresholds,
    onAlert: o.onAlert,
    checkIntervalMs,
    prometheus: {
      enabled: prom.enabled !== false,
      registry: prom.registry,
      durationBuckets: buckets(prom.durationBuckets, 'durationBuckets', DEFAULT_DURATION_BUCKETS),
      lagBuckets: buckets(prom.lagBuckets, 'lagBuckets', DEFAULT_LAG_BUCKETS),
    },
    tracing: {
      enabled: tracing.enabled !== false,
      tracerName: tracing.tracerName ?? 'nestjs-messaging',
      producerAsParent: tracing.producerAsParent === true,
    },
  };
}
