import type { Counter, Gauge, Registry } from 'prom-client';
import type { MessagingSnapshot } from '../messaging-snapshot.interface';
import type { PromClientModule } from './prom-client.loader';
import type { ConsumerMetricFamilies } from './prometheus.observer';
import { CounterFamily, HistogramFamily, type RegistrableMetric } from './local-metrics';

/** Something that provides a snapshot at scrape time (one per app instance on the registry). */
export interface SnapshotSource {
  scrapeSnapshot(): Promise<MessagingSnapshot>;
}

/** Every metric family of this library on one registry, and the sources its gauges read. */
export interface MetricFamilies extends ConsumerMetricFamilies {
  sources: Set<SnapshotSource>;
}

const byRegistry = new WeakMap<Registry, MetricFamilies>();

type GaugeSpec = {
  /** `counter` for a count that only grows while the app runs (read from the snapshot, like a gauge). */
  type?: 'counter';
  name: string;
  help: string;
  labels: string[];
  values: (s: MessagingSnapshot) => Array<[Record<string, string>, number]>;
};

const sec = (ms: number) => ms / 1000;

/** The gauges, each computed from the snapshot of every source at scrape time. */
const GAUGES: GaugeSpec[] = [
  {
    name: 'messaging_transport_connected',
    help: 'Whether the transport is connected (1) or not (0).',
    labels: ['service', 'transport'],
    values: (s) => [[{ service: s.service, transport: s.transport.name }, s.transport.connected ? 1 : 0]],
  },
  ...(['depth', 'consumers'] as const).map<GaugeSpec>((field) => ({
    name: `messaging_queue_${field}`,
    help: field === 'depth' ? 'Messages ready in the subscriber queue.' : 'Consumers of the subscriber queue.',
    labels: ['service', 'subscriber', 'queue'],
    values: (s) =>
      s.subscribers
        .filter((x) => x.queue)
        .map((x) => [{ service: s.service, subscriber: x.subscriber, queue: x.queue!.name }, x.queue![field]]),
  })),
  {
    name: 'messaging_consumer_current_lag_seconds',
    help: 'Current consumer lag: 0 when the queue is empty, else max(last lag, time since the last handled message).',
    labels: ['service', 'subscriber'],
    values: (s) => s.subscribers.map((x) => [{ service: s.service, subscriber: x.subscriber }, sec(x.currentLagMs)]),
  },
  {
    name: 'messaging_dead_letter_queue_depth',
    help: 'Messages in the dead-letter queue.',
    labels: ['service'],
    values: (s) => (s.deadLetterQueue.depth === undefined ? [] : [[{ service: s.service }, s.deadLetterQueue.depth]]),
  },
  ...(
    [
      ['messaging_outbox_pending', 'Outbox rows waiting to be published (due or scheduled).', (o) => o.pending],
      ['messaging_outbox_due', 'Pending outbox rows whose time has come.', (o) => o.due],
      ['messaging_outbox_failed', 'Outbox rows given up after the maximum attempts.', (o) => o.failed],
      [
        'messaging_outbox_oldest_pending_age_seconds',
        'Age of the oldest due outbox row.',
        (o) => sec(o.oldestPendingAgeMs),
      ],
      [
        'messaging_outbox_relay_running',
        'Whether the outbox relay runs in this instance.',
        (o) => (o.relay.running ? 1 : 0),
      ],
    ] as Array<[string, string, (o: NonNullable<MessagingSnapshot['outbox']>) => number]>
  ).map<GaugeSpec>(([name, help, pick]) => ({
    name,
    help,
    labels: ['service'],
    values: (s) => (s.outbox ? [[{ service: s.service }, pick(s.outbox)]] : []),
  })),
  {
    name: 'messaging_remote_queries_in_flight',
    help: 'Routed queries of this service waiting for their reply.',
    labels: ['service'],
    values: (s) => (s.remote ? [[{ service: s.service }, s.remote.inFlight]] : []),
  },
  {
    type: 'counter',
    name: 'messaging_remote_stray_replies_total',
    help: 'Replies to routed queries dropped because no pending request matched them (late after a timeout, duplicated, unknown).',
    labels: ['service'],
    values: (s) => (s.remote ? [[{ service: s.service }, s.remote.strayReplies]] : []),
  },
];

function gauge(
  prom: PromClientModule,
  registry: Registry,
  spec: GaugeSpec,
  sources: Set<SnapshotSource>,
): Gauge<string> | Counter<string> {
  const read = async () => {
    const snapshots = await Promise.all([...sources].map((src) => src.scrapeSnapshot().catch(() => undefined)));
    return snapshots.flatMap((snap) => (snap ? spec.values(snap) : []));
  };
  const common = { name: spec.name, help: spec.help, labelNames: spec.labels, registers: [registry] };
  if (spec.type === 'counter') {
    // the running total kept by the app, set at scrape time (a counter resets when the app restarts)
    return new prom.Counter({
      ...common,
      async collect() {
        const values = await read();
        this.reset();
        for (const [labels, value] of values) this.inc(labels, value);
      },
    });
  }
  return new prom.Gauge({
    ...common,
    async collect() {
      const values = await read();
      this.reset();
      for (const [labels, value] of values) this.set(labels, value);
    },
  });
}

/**
 * The library's metric families on `registry`, created on first use. Several app instances in one
 * process share them (labelled by `service`); each adds itself to `sources` for the gauges.
 */
export function metricFamilies(
  prom: PromClientModule,
  registry: Registry,
  buckets: { duration: number[]; lag: number[] },
): MetricFamilies {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const sources = new Set<SnapshotSource>();
  const families: MetricFamilies = {
    sources,
    handled: new CounterFamily(
      'messaging_messages_handled_total',
      'Messages handled successfully by a subscriber (duplicates included).',
    ),
    duplicates: new CounterFamily('messaging_messages_duplicate_total', 'Redeliveries absorbed by the inbox.'),
    retried: new CounterFamily('messaging_messages_retried_total', 'Failed attempts scheduled for a retry.'),
    deadLettered: new CounterFamily('messaging_messages_dead_lettered_total', 'Messages given up and dead-lettered.'),
    duration: new HistogramFamily(
      'messaging_handler_duration_seconds',
      'Time a subscriber took to handle a message (successful attempts).',
      buckets.duration,
    ),
    lag: new HistogramFamily(
      'messaging_consumer_lag_seconds',
      'Consumer lag: handling time minus event time.',
      buckets.lag,
    ),
  };
  const local: RegistrableMetric[] = [
    families.handled,
    families.duplicates,
    families.retried,
    families.deadLettered,
    families.duration,
    families.lag,
  ];
  for (const m of local) {
    if (registry.getSingleMetric(m.name))
      throw new Error(`A metric with the name ${m.name} has already been registered.`);
  }
  for (const m of local) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  for (const spec of GAUGES) gauge(prom, registry, spec, sources);
  byRegistry.set(registry, families);
  return families;
}
