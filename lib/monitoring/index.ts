/** Monitoring: snapshot, thresholds and alerts, Prometheus metrics, health indicator, dead-letter tooling. */
export { MessagingMonitor, subscriberSnapshot } from './messaging-monitor.service';
export type { MessagingSnapshot, SubscriberSnapshot, Percentiles } from './messaging-snapshot.interface';
export type {
  MonitoringOptions,
  MonitoringThresholds,
  ThresholdName,
  ThresholdBreach,
  MessagingAlert,
  MessagingAlertHook,
  PrometheusOptions,
  TracingOptions,
  ResolvedMonitoringOptions,
} from './monitoring-options.interface';
export {
  resolveMonitoringOptions,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_LAG_BUCKETS,
} from './monitoring-options.validator';
export { findBreaches } from './threshold-checker';
export {
  logAlerts,
  webhookAlerts,
  combineAlertHooks,
  describeAlert,
  alertPayload,
  onlyNewFailureGroups,
  type WebhookAlertOptions,
} from './alert-hooks';
export { MessagingMetrics } from './prometheus/messaging-metrics.service';
export { MessagingMetricsController } from './prometheus/metrics.controller';
export { MessagingHealthIndicator, type MessagingHealthResult } from './health/messaging-health.indicator';
export {
  DeadLetterAdmin,
  DEAD_LETTER_SCAN_LIMIT,
  type DeadLetterScan,
  type DeadLetterSelection,
  type ProgressCallback,
} from './dead-letters/dead-letter-admin.service';
export { groupDeadLetters, type DeadLetterGroup } from './dead-letters/dead-letter-groups';
export { FailureGroupTracker, type DeadLetterAlertGroup } from './dead-letters/failure-group-tracker';
export { MESSAGING_MONITORING_OPTIONS } from './monitoring.tokens';
export { MONITORING_PROVIDERS, MONITORING_EXPORTS } from './monitoring.providers';
