import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { InvalidConfigurationError } from '../../errors/invalid-configuration.error';
import { SubscriberStats } from '../subscriber-stats';
import { MessagingMonitor } from '../messaging-monitor.service';
import type { MessagingSnapshot } from '../messaging-snapshot.interface';
import { MESSAGING_MONITORING_OPTIONS } from '../monitoring.tokens';
import type { ResolvedMonitoringOptions } from '../monitoring-options.interface';
import { resolveMonitoringOptions } from '../monitoring-options.validator';
import { loadPromClient } from './prom-client.loader';
import { metricFamilies, type MetricFamilies, type SnapshotSource } from './metric-families';
import { PrometheusConsumerObserver } from './prometheus.observer';

/** A scrape reuses a snapshot taken less than this long ago (several gauges, one snapshot). */
const SNAPSHOT_REUSE_MS = 1000;

/**
 * Prometheus metrics of this service, when `prom-client` is installed (otherwise `enabled` is
 * false and `metrics()` returns an empty string). Counters and histograms are updated as messages
 * are handled (a `ConsumerObserver` in `SubscriberStats.observers`); gauges (queue depth and
 * consumers, current lag, dead-letter depth, outbox, transport connection, routed queries in
 * flight) and the stray-replies counter of routed queries are read from a
 * `MessagingMonitor` snapshot at scrape time. Metrics go to `monitoring.prometheus.registry`, by
 * default prom-client's global `register` — so an existing `/metrics` endpoint shows them too.
 */
@Injectable()
export class MessagingMetrics implements SnapshotSource, OnModuleDestroy {
  /** Whether metrics are collected (prom-client installed and not turned off). */
  readonly enabled: boolean;
  /** The observer added to `SubscriberStats.observers` (undefined when disabled). */
  readonly observer?: PrometheusConsumerObserver;
  private readonly registry?: Registry;
  private readonly families?: MetricFamilies;
  private inflight?: { at: number; snapshot: Promise<MessagingSnapshot> };

  constructor(
    private readonly monitor: MessagingMonitor,
    private readonly stats: SubscriberStats,
    @Optional() @Inject(MESSAGING_MONITORING_OPTIONS) options?: ResolvedMonitoringOptions,
  ) {
    const { prometheus } = options ?? resolveMonitoringOptions(undefined);
    const prom = prometheus.enabled ? loadPromClient() : undefined;
    this.enabled = prom !== undefined;
    if (!prom) return;
    const registry = (prometheus.registry ?? prom.register) as Registry;
    if (typeof (registry as { metrics?: unknown }).metrics !== 'function') {
      throw new InvalidConfigurationError('monitoring.prometheus.registry must be a prom-client Registry');
    }
    try {
      this.families = metricFamilies(prom, registry, {
        duration: prometheus.durationBuckets,
        lag: prometheus.lagBuckets,
      });
    } catch (err) {
      throw new InvalidConfigurationError(
        `could not register the messaging metrics (${(err as Error).message}); another copy of nestjs-messaging may own ` +
          'them: give each its own monitoring.prometheus.registry',
      );
    }
    this.registry = registry;
    this.families.sources.add(this);
    const observer = new PrometheusConsumerObserver(monitor.service, this.families);
    stats.observers.push(observer);
    this.observer = observer;
  }

  /** Content type of `metrics()` (Prometheus text format). */
  get contentType(): string {
    return this.registry?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
  }

  /** The text exposition of the registry (every metric on it, not only ours); '' when disabled. */
  async metrics(): Promise<string> {
    this.registerSubscribers();
    return this.registry ? this.registry.metrics() : '';
  }

  /** @internal A snapshot for the gauges, shared by the gauges of one scrape. */
  scrapeSnapshot(): Promise<MessagingSnapshot> {
    const now = Date.now();
    if (!this.inflight || now - this.inflight.at > SNAPSHOT_REUSE_MS) {
      this.registerSubscribers();
      this.inflight = { at: now, snapshot: this.monitor.snapshot() };
    }
    return this.inflight.snapshot;
  }

  /** Zero series for subscribers that have not handled anything yet. */
  private registerSubscribers(): void {
    if (this.observer) for (const name of this.stats.subscribers()) this.observer.register(name);
  }

  /** Stops feeding the gauges from this instance. */
  onModuleDestroy(): void {
    this.families?.sources.delete(this);
  }
}
