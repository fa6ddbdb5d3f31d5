import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { ErrorInfo } from '../errors/error-info';
import type { DeadLetterAlertGroup } from './dead-letters/failure-group-tracker';

/**
 * Limits the monitor checks on every snapshot. Each is optional: an unset limit is not checked.
 */
export interface MonitoringThresholds {
  /** Age of the oldest due outbox row (the outbox lag), ms. */
  maxOutboxAgeMs?: number;
  /** Messages in the dead-letter queue. A breach when the depth is above this. */
  maxDeadLetters?: number;
  /** Current consumer lag of any subscriber (see `SubscriberSnapshot.currentLagMs`), ms. */
  maxConsumerLagMs?: number;
  /** Ready messages in any subscriber queue. */
  maxQueueDepth?: number;
}

/** Which threshold a breach is about. */
export type ThresholdName = keyof MonitoringThresholds;

/** One limit exceeded, found by a snapshot. */
export interface ThresholdBreach {
  /** The threshold exceeded. */
  threshold: ThresholdName;
  /** The subscriber concerned (lag and depth), if any. */
  subscriber?: string;
  /** The measured value. */
  value: number;
  /** The configured limit. */
  limit: number;
  /** A one-line description for logs and alerts (no payloads, no secrets). */
  message: string;
}

/** An alert: a message was dead-lettered, or a threshold started or stopped being breached. */
export type MessagingAlert =
  | {
      kind: 'dead-letter';
      /** This service. */
      service: string;
      /** The subscriber that failed. */
      subscriber: string;
      /** The last error. */
      error: ErrorInfo;
      /** The dead letter (its `body` is the raw message: do not log it by default). */
      deadLetter: DeadLetter;
      /**
       * Its failure group, `new` or `growing` (see `DeadLetterAlertGroup`): alert once per new
       * problem with `onlyNewFailureGroups(hook)`. The library always sets it; optional so that
       * alerts built by hand (in tests) without it still type-check.
       */
      group?: DeadLetterAlertGroup;
    }
  | {
      kind: 'threshold';
      /** This service. */
      service: string;
      /** `firing` when the breach appears, `resolved` when a later check no longer finds it. */
      state: 'firing' | 'resolved';
      /** The breach (for `resolved`, as last seen). */
      breach: ThresholdBreach;
    };

/** Receives alerts. Errors it throws or rejects with are logged, never rethrown. */
export type MessagingAlertHook = (alert: MessagingAlert) => void | Promise<void>;

/** OpenTelemetry settings (needs `@opentelemetry/api`; without an SDK everything is a no-op). */
export interface TracingOptions {
  /** Put the active span's `traceparent` on outgoing messages and trace consumption. Default true. */
  enabled?: boolean;
  /** Tracer name. Default `nestjs-messaging`. */
  tracerName?: string;
  /**
   * Make the producer's span the parent of the consumer span (one trace end to end) in addition to
   * linking it. Default false: the consumer span starts a new trace with a link (OpenTelemetry
   * messaging conventions for asynchronous processing).
   */
  producerAsParent?: boolean;
}

/** Prometheus settings (needs `prom-client`; silently off without it). */
export interface PrometheusOptions {
  /** Register the metrics. Default true when `prom-client` is installed. */
  enabled?: boolean;
  /** A `prom-client` `Registry`. Default: prom-client's global `register`. */
  registry?: unknown;
  /** Buckets of `messaging_handler_duration_seconds`. */
  durationBuckets?: number[];
  /** Buckets of `messaging_consumer_lag_seconds`. */
  lagBuckets?: number[];
}

/** The `monitoring` module option. */
export interface MonitoringOptions {
  /** Limits checked on each snapshot (and by the health indicator by default). */
  thresholds?: MonitoringThresholds;
  /** Called for each dead letter and when a threshold starts or stops being breached. */
  onAlert?: MessagingAlertHook;
  /**
   * Check the thresholds on a timer, ms, so alerts fire without anyone asking for a snapshot.
   * Default 30000 when `onAlert` and `thresholds` are set, else 0 (off).
   */
  checkIntervalMs?: number;
  /** Prometheus metrics. `false` turns them off. */
  prometheus?: PrometheusOptions | boolean;
  /** OpenTelemetry tracing. `false` turns it off. */
  tracing?: TracingOptions | boolean;
}

/** `MonitoringOptions` with defaults applied. */
export interface ResolvedMonitoringOptions {
  thresholds: MonitoringThresholds;
  onAlert?: MessagingAlertHook;
  checkIntervalMs: number;
  prometheus: Required<Omit<PrometheusOptions, 'registry'>> & { registry?: unknown };
  tracing: Required<TracingOptions>;
}
