/**
 * Cost of monitoring: in-memory event throughput with monitoring + Prometheus + tracing on, versus
 * off, measured in the same run.
 *
 *   npm run bench:monitoring        (BENCH_ROUNDS=15 BENCH_ROUND_MS=200 to tune)
 *
 * "on": the monitoring services, prom-client metrics on their own registry (counters and
 * histograms updated per message), tracing through @opentelemetry/api with no SDK registered (the
 * case of an app that has the API but no exporter), a /metrics scrape per round. "off": the same
 * app with `monitoring: { prometheus: false, tracing: false }` (or without the monitoring services
 * before they are part of the module). Rounds alternate on/off (and which goes first); reported:
 * median ops/s of each, and the headline ratio: the median of the per-pair ratios on/off (robust
 * to drift of a noisy machine). Target ≥ 0.95.
 */
import 'reflect-metadata';
import {
  Injectable,
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type Provider,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
import {
  EventBus,
  Message,
  MessagingModule,
  Subscribe,
  resolveMessagingOptions,
  type MessagingModuleOptions,
} from '../lib';
import { MessagingMonitor } from '../lib/monitoring/messaging-monitor.service';
import { MessagingMetrics } from '../lib/monitoring/prometheus/messaging-metrics.service';
import { MessagingTracing } from '../lib/tracing/messaging-tracing.service';
import { MESSAGING_MONITORING_OPTIONS } from '../lib/monitoring/monitoring.tokens';
import { MONITORING_SERVICES } from '../lib/monitoring/monitoring.providers';
import { resolveMonitoringOptions } from '../lib/monitoring/monitoring-options.validator';
import type { MonitoringOptions } from '../lib/monitoring/monitoring-options.interface';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 200);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);
const TARGET = 0.95;

let hits = 0;
let target = Infinity;
let done: (() => void) | undefined;
function hit(): void {
  if (++hits >= target && done) {
    const d = done;
    done = undefined;
    d();
  }
}
function until(n: number): Promise<void> {
  if (hits >= n) return Promise.resolve();
  target = n;
  return new Promise((r) => (done = r));
}

@Message('MonBenchEvent')
class BenchEvent {
  constructor(
    readonly orderId: string,
    readonly amount: number,
  ) {}
}

@Injectable()
class SubA {
  @Subscribe(BenchEvent)
  on() {
    hit();
  }
}
@Injectable()
class SubB {
  @Subscribe(BenchEvent)
  on() {
    hit();
  }
}
@Injectable()
class SubC {
  @Subscribe(BenchEvent)
  on() {
    hit();
  }
}

const coreHasMonitoring = ((Reflect.getMetadata('providers', MessagingModule) ?? []) as unknown[]).includes(
  MessagingMonitor,
);
const coreHasOption = (() => {
  try {
    resolveMessagingOptions({ serviceName: 'probe', monitoring: {} } as MessagingModuleOptions);
    return true;
  } catch {
    return false;
  }
})();

function appModule(name: string, subscribers: Type[], monitoring: MonitoringOptions | undefined): Type {
  const extra: Provider[] = [];
  const options = { serviceName: name } as MessagingModuleOptions & { monitoring?: MonitoringOptions };
  if (coreHasOption) options.monitoring = monitoring ?? { prometheus: false, tracing: false };
  else if (monitoring)
    extra.push({ provide: MESSAGING_MONITORING_OPTIONS, useValue: resolveMonitoringOptions(monitoring) });
  if (!coreHasMonitoring && monitoring) extra.push(...MONITORING_SERVICES);
  @Module({ imports: [MessagingModule.forRoot(options) as DynamicModule], providers: [...subscribers, ...extra] })
  class BenchModule {}
  return BenchModule;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

type Round = (n: number) => Promise<number>;

function sequential(app: INestApplicationContext, subscribers: number): Round {
  const bus = app.get(EventBus);
  return async (n) => {
    const goal = hits + n * subscribers;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await bus.publish(new BenchEvent(`o-${i}`, i));
    await until(goal);
    return performance.now() - t0;
  };
}

async function opsPerSec(round: Round, n: number): Promise<number> {
  return (n * 1000) / (await round(n));
}

async function measure(name: string, on: Round, off: Round, scrape: () => Promise<unknown>): Promise<boolean> {
  const deadline = performance.now() + WARMUP_MS;
  let n = 500;
  let slowest = Infinity;
  while (performance.now() < deadline) {
    slowest = Math.min(await opsPerSec(on, n), await opsPerSec(off, n));
    n = Math.min(50_000, n * 2);
  }
  n = Math.max(1000, Math.round((slowest * ROUND_MS) / 1000 / 1000) * 1000);
  const onRounds: number[] = [];
  const offRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const first = r % 2 === 0;
    if (first) onRounds.push(await opsPerSec(on, n));
    offRounds.push(await opsPerSec(off, n));
    if (!first) onRounds.push(await opsPerSec(on, n));
    await scrape();
  }
  const ratio = median(onRounds.map((x, i) => x / offRounds[i]));
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US').padStart(11);
  console.log(
    `${name.padEnd(34)}${fmt(median(onRounds))}${fmt(median(offRounds))}   ${ratio.toFixed(3)}  N=${n}  ${ratio >= TARGET ? 'ok' : 'MISSED'} (target ≥ ${TARGET})`,
  );
  return ratio >= TARGET;
}

async function main(): Promise<void> {
  const registry = new Registry();
  // BENCH_ON=prometheus|tracing measures one of them alone (attribution); default both
  const only = process.env.BENCH_ON;
  const on = {
    prometheus: only === 'tracing' ? false : { registry },
    tracing: only !== 'prometheus',
  } as MonitoringOptions;
  const start = (m: Type) => NestFactory.createApplicationContext(m, { logger: false, abortOnError: false });
  const [on1, off1, on3, off3] = await Promise.all([
    start(appModule('bench-on1', [SubA], on)),
    start(appModule('bench-off1', [SubA], undefined)),
    start(appModule('bench-on3', [SubA, SubB, SubC], on)),
    start(appModule('bench-off3', [SubA, SubB, SubC], undefined)),
  ]);
  const metrics = on1.get(MessagingMetrics);
  const tracing = on1.get(MessagingTracing);
  console.log(
    `nestjs-messaging monitoring overhead — Node ${process.version}; ${ROUNDS} interleaved rounds of ~${ROUND_MS} ms`,
  );
  console.log(
    `on: prom-client ${metrics.enabled ? 'on' : 'OFF'}, tracing ${tracing.enabled ? 'on (API, no SDK)' : 'OFF'}, ` +
      `core wiring ${coreHasMonitoring ? 'patched (consume wrapper + traceparent)' : 'NOT patched (metrics observer only)'}`,
  );
  console.log(
    `${'scenario (sequential publish)'.padEnd(34)}${'on ops/s'.padStart(11)}${'off ops/s'.padStart(11)}   on/off (median of pair ratios)`,
  );
  const scrape = () => metrics.metrics();
  const ok1 = await measure('EventBus.publish → 1 subscriber', sequential(on1, 1), sequential(off1, 1), scrape);
  const ok3 = await measure('EventBus.publish → 3 subscribers', sequential(on3, 3), sequential(off3, 3), scrape);
  const series = (await metrics.metrics()).split('\n').filter((l) => l.startsWith('messaging_messages_handled_total'));
  console.log(`handled counters after the run: ${series.join(' | ')}`);
  await Promise.all([on1.close(), off1.close(), on3.close(), off3.close()]);
  console.log(ok1 && ok3 ? 'target met' : 'target missed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
