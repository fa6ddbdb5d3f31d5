import type { Provider } from '@nestjs/common';
import { MESSAGING_OPTIONS } from '../messaging.tokens';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import { MessagingTracing } from '../tracing/messaging-tracing.service';
import { MESSAGING_MONITORING_OPTIONS } from './monitoring.tokens';
import type { MonitoringOptions } from './monitoring-options.interface';
import { resolveMonitoringOptions } from './monitoring-options.validator';
import { MessagingMonitor } from './messaging-monitor.service';
import { MessagingMetrics } from './prometheus/messaging-metrics.service';
import { MessagingHealthIndicator } from './health/messaging-health.indicator';
import { DeadLetterAdmin } from './dead-letters/dead-letter-admin.service';

/** Resolves the `monitoring` module option (read from the resolved messaging options). */
export const monitoringOptionsProvider: Provider = {
  provide: MESSAGING_MONITORING_OPTIONS,
  inject: [MESSAGING_OPTIONS],
  useFactory: (options: ResolvedMessagingOptions) =>
    resolveMonitoringOptions((options as ResolvedMessagingOptions & { monitoring?: MonitoringOptions }).monitoring),
};

/** The monitoring services, without their options provider. */
export const MONITORING_SERVICES = [
  MessagingMonitor,
  MessagingMetrics,
  MessagingHealthIndicator,
  MessagingTracing,
  DeadLetterAdmin,
];

/** Providers to spread into `MessagingModule`'s `providers`. */
export const MONITORING_PROVIDERS: Provider[] = [monitoringOptionsProvider, ...MONITORING_SERVICES];

/** Tokens to spread into `MessagingModule`'s `exports`. */
export const MONITORING_EXPORTS = [...MONITORING_SERVICES, MESSAGING_MONITORING_OPTIONS];
