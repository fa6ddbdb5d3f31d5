import type { OutboxStatsSnapshot } from '../outbox/outbox-integration';
import type { ThresholdBreach } from './monitoring-options.interface';
import type { RemoteQueryStats } from '../remote/remote-messaging';

/** Percentiles over a subscriber's recent window (last 1024 messages), ms. */
export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/** One subscriber: its counters, timings and queue. */
export interface SubscriberSnapshot {
  /** Subscriber name, e.g. `InventoryService.onOrderCreated`. */
  subscriber: string;
  /** Messages handled successfully (inbox duplicates included). */
  handled: number;
  /** Failed attempts: `retried + deadLettered`. */
  failed: number;
  /** Failed attempts that were scheduled for a retry. */
  retried: number;
  /** Messages given up. */
  deadLettered: number;
  /** Redeliveries absorbed by the inbox. */
  duplicates: number;
  /** Handler duration over the recent window. */
  durationMs: Percentiles;
  /** Consumer lag (handling time − event time) over the recent window. */
  lagMs: Percentiles;
  /**
   * Lag now: 0 when the queue is empty; otherwise the larger of the last message's lag and the
   * time since the subscriber last handled a message (grows while a consumer is stalled).
   */
  currentLagMs: number;
  /** When it last handled a message (ISO), if ever. */
  lastHandledAt?: string;
  /**
   * Deliveries received by this instance and not settled yet (being handled, or waiting for a commit
   * group). `MessagingMonitor` always sets it; optional so that snapshots built by hand still type-check.
   */
  inFlight?: number;
  /** Its queue, when the transport could tell. */
  queue?: { name: string; depth: number; consumers: number };
}

/** Everything an operator needs at a glance. */
export interface MessagingSnapshot {
  /** When this snapshot was taken (ISO). */
  takenAt: string;
  /** This service. */
  service: string;
  /** The transport and its connection. */
  transport: {
    name: string;
    connected: boolean;
    /** Each connection by role, when the transport has several (RabbitMQ: `publisher`, `consumer`). */
    connections?: Record<string, 'up' | 'down'>;
    /** Why queue figures are missing, when `stats()` failed (e.g. disconnected). */
    statsError?: string;
  };
  /** Outbox figures, undefined when the outbox is off. */
  outbox?: OutboxStatsSnapshot;
  /** Routed queries this service sends (`RemoteMessaging.stats()`), undefined when it sends none. */
  remote?: RemoteQueryStats;
  /** Per subscriber. */
  subscribers: SubscriberSnapshot[];
  /** The dead-letter queue (depth undefined when it could not be read). */
  deadLetterQueue: { name?: string; depth?: number };
  /** Thresholds exceeded now. */
  breaches: ThresholdBreach[];
}
