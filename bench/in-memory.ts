/**
 * In-process throughput of our buses beside `@nestjs/cqrs` 11's, measured in the same run.
 *
 *   npm run bench:memory            (BENCH_ROUNDS=7 BENCH_ROUND_MS=120 to tune)
 *
 * Method: each scenario builds the same handlers on both sides, warms up, calibrates N so a
 * round lasts about BENCH_ROUND_MS, then runs BENCH_ROUNDS rounds of N ops per side,
 * interleaving ours and cqrs (alternating which goes first) so both share the machine's noise.
 * Reported: median ops/s per side and the ratio of the medians (ours / cqrs).
 *
 * Events: a round's clock stops only when every handler invocation (N × subscribers) has run.
 * cqrs runs handlers synchronously from `publish()`; ours delivers asynchronously through the
 * in-memory transport (each subscriber decodes its own copy). Headline = "sequential": `await
 * publish()` one after another. "pipelined" fires N publishes, then waits for all deliveries.
 */
import 'reflect-metadata';
import { Injectable, Module, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as cqrs from '@nestjs/cqrs';
import {
  CommandBus,
  CommandHandler,
  EventBus,
  Message,
  MessagingModule,
  QueryBus,
  QueryHandler,
  Subscribe,
  type ICommandHandler,
  type IQueryHandler,
} from '../lib';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 120);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 400);
/** Only scenarios whose name matches (for profiling one of them). */
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, 'i') : undefined;

// ---------------------------------------------------------------- handler invocation counter

/** Counts handler invocations and lets a round wait until a given count is reached. */
class HitCounter {
  count = 0;
  private target = Infinity;
  private resolve?: () => void;

  hit(): void {
    if (++this.count >= this.target && this.resolve) {
      const r = this.resolve;
      this.resolve = undefined;
      this.target = Infinity;
      r();
    }
  }

  until(target: number): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.target = target;
      this.resolve = resolve;
    });
  }
}

const oursHits = new HitCounter();
const cqrsHits = new HitCounter();

// ---------------------------------------------------------------- messages (same shape both sides)

class OursCreateOrder {
  constructor(
    readonly orderId: string,
    readonly amount: number,
  ) {}
}
class OursGetOrder {
  constructor(readonly orderId: string) {}
}
class CqrsCreateOrder {
  constructor(
    readonly orderId: string,
    readonly amount: number,
  ) {}
}
class CqrsGetOrder {
  constructor(readonly orderId: string) {}
}

/** The event, published by both sides (cqrs ignores `@Message`). */
@Message('BenchEvent')
class BenchEvent {
  constructor(
    readonly orderId: string,
    readonly customerId: string,
    readonly totalAmount: number,
  ) {}
}

const ORDER = { id: 'o-1', status: 'created' };

// ---------------------------------------------------------------- our handlers

@CommandHandler(OursCreateOrder)
class OursCreateOrderHandler implements ICommandHandler<OursCreateOrder> {
  async execute(c: OursCreateOrder) {
    return c.amount;
  }
}

@QueryHandler(OursGetOrder)
class OursGetOrderHandler implements IQueryHandler<OursGetOrder> {
  async execute() {
    return ORDER;
  }
}

@Injectable()
class OursSubA {
  @Subscribe(BenchEvent)
  on(_e: BenchEvent) {
    oursHits.hit();
  }
}
@Injectable()
class OursSubB {
  @Subscribe(BenchEvent)
  on(_e: BenchEvent) {
    oursHits.hit();
  }
}
@Injectable()
class OursSubC {
  @Subscribe(BenchEvent)
  on(_e: BenchEvent) {
    oursHits.hit();
  }
}

/** Subscribed by type name: the handler gets the decoded plain payload (no class rebuild). */
@Injectable()
class OursSubByName {
  @Subscribe('BenchEvent')
  on(_e: { orderId: string }) {
    oursHits.hit();
  }
}

// ---------------------------------------------------------------- cqrs handlers

@cqrs.CommandHandler(CqrsCreateOrder)
class CqrsCreateOrderHandler implements cqrs.ICommandHandler<CqrsCreateOrder> {
  async execute(c: CqrsCreateOrder) {
    return c.amount;
  }
}

@cqrs.QueryHandler(CqrsGetOrder)
class CqrsGetOrderHandler implements cqrs.IQueryHandler<CqrsGetOrder> {
  async execute() {
    return ORDER;
  }
}

@cqrs.EventsHandler(BenchEvent)
class CqrsSubA implements cqrs.IEventHandler<BenchEvent> {
  handle(_e: BenchEvent) {
    cqrsHits.hit();
  }
}
@cqrs.EventsHandler(BenchEvent)
class CqrsSubB implements cqrs.IEventHandler<BenchEvent> {
  handle(_e: BenchEvent) {
    cqrsHits.hit();
  }
}
@cqrs.EventsHandler(BenchEvent)
class CqrsSubC implements cqrs.IEventHandler<BenchEvent> {
  handle(_e: BenchEvent) {
    cqrsHits.hit();
  }
}

// ---------------------------------------------------------------- apps

function oursModule(providers: Type[]): Type {
  @Module({ imports: [MessagingModule.forRoot({ serviceName: 'bench' }) as DynamicModule], providers })
  class OursBenchModule {}
  return OursBenchModule;
}

function cqrsModule(providers: Type[]): Type {
  @Module({ imports: [cqrs.CqrsModule.forRoot()], providers })
  class CqrsBenchModule {}
  return CqrsBenchModule;
}

function start(module: Type): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(module, { logger: false, abortOnError: false });
}

// ---------------------------------------------------------------- measurement

/** Runs `n` ops and returns elapsed ms. */
type Round = (n: number) => Promise<number>;

interface Scenario {
  name: string;
  ours: Round;
  cqrs: Round;
}

interface Result {
  name: string;
  n: number;
  ours: number;
  cqrs: number;
  oursRounds: number[];
  cqrsRounds: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function opsPerSec(round: Round, n: number): Promise<number> {
  const ms = await round(n);
  return (n * 1000) / ms;
}

/** Warm-up (also JIT), then an N that makes the slower side's round last about ROUND_MS. */
async function calibrate(s: Scenario): Promise<number> {
  const deadline = performance.now() + WARMUP_MS;
  let n = 500;
  let slowest = Infinity;
  while (performance.now() < deadline) {
    slowest = Math.min(await opsPerSec(s.ours, n), await opsPerSec(s.cqrs, n));
    n = Math.min(50_000, n * 2);
  }
  return Math.max(1000, Math.round((slowest * ROUND_MS) / 1000 / 1000) * 1000);
}

async function measure(s: Scenario): Promise<Result> {
  const n = await calibrate(s);
  const oursRounds: number[] = [];
  const cqrsRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      oursRounds.push(await opsPerSec(s.ours, n));
      cqrsRounds.push(await opsPerSec(s.cqrs, n));
    } else {
      cqrsRounds.push(await opsPerSec(s.cqrs, n));
      oursRounds.push(await opsPerSec(s.ours, n));
    }
  }
  return { name: s.name, n, ours: median(oursRounds), cqrs: median(cqrsRounds), oursRounds, cqrsRounds };
}

function sequentialRequests(execute: (i: number) => Promise<unknown>): Round {
  return async (n) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await execute(i);
    return performance.now() - t0;
  };
}

function sequentialEvents(publish: (e: BenchEvent) => unknown, hits: HitCounter, subscribers: number): Round {
  return async (n) => {
    const target = hits.count + n * subscribers;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await publish(new BenchEvent(`o-${i}`, 'c-1', i));
    await hits.until(target);
    return performance.now() - t0;
  };
}

/**
 * Publishes in windows of PIPELINE_WINDOW without awaiting each one. (Not one unbounded burst:
 * cqrs' rxjs `mergeMap` removes each finished inner subscription with an array search, so N
 * outstanding handler promises cost it O(N²) and would flatter us.)
 */
const PIPELINE_WINDOW = 64;
function pipelinedEvents(publish: (e: BenchEvent) => unknown, hits: HitCounter, subscribers: number): Round {
  return async (n) => {
    const target = hits.count + n * subscribers;
    const t0 = performance.now();
    const pending: unknown[] = new Array(PIPELINE_WINDOW);
    for (let i = 0; i < n;) {
      const end = Math.min(n, i + PIPELINE_WINDOW);
      pending.length = end - i;
      for (let k = 0; i < end; i++, k++) pending[k] = publish(new BenchEvent(`o-${i}`, 'c-1', i));
      await Promise.all(pending);
    }
    await hits.until(target);
    return performance.now() - t0;
  };
}

// ---------------------------------------------------------------- report

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(11);
}

function spread(xs: number[]): string {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const m = median(xs);
  return `±${Math.round(((hi - lo) / 2 / m) * 100)}%`.padStart(5);
}

function printRow(r: Result, target?: number): void {
  const ratio = r.ours / r.cqrs;
  const verdict =
    target === undefined
      ? ''
      : ratio >= target
        ? `  ok (target ≥ ${target.toFixed(1)})`
        : `  MISSED (target ≥ ${target.toFixed(1)})`;
  console.log(
    `${r.name.padEnd(42)}${fmt(r.ours)} ${spread(r.oursRounds)}${fmt(r.cqrs)} ${spread(r.cqrsRounds)}   ${ratio.toFixed(2).padStart(5)}  N=${r.n}${verdict}`,
  );
}

async function main(): Promise<void> {
  const began = performance.now();
  const [ours1, ours3, oursByName, cqrs1, cqrs3] = await Promise.all([
    start(oursModule([OursCreateOrderHandler, OursGetOrderHandler, OursSubA])),
    start(oursModule([OursSubA, OursSubB, OursSubC])),
    start(oursModule([OursSubByName])),
    start(cqrsModule([CqrsCreateOrderHandler, CqrsGetOrderHandler, CqrsSubA])),
    start(cqrsModule([CqrsSubA, CqrsSubB, CqrsSubC])),
  ]);
  const ourCommands = ours1.get(CommandBus);
  const ourQueries = ours1.get(QueryBus);
  const ourEvents1 = ours1.get(EventBus);
  const ourEvents3 = ours3.get(EventBus);
  const cqrsCommands = cqrs1.get(cqrs.CommandBus);
  const cqrsQueries = cqrs1.get(cqrs.QueryBus);
  const cqrsEvents1 = cqrs1.get(cqrs.EventBus);
  const cqrsEvents3 = cqrs3.get(cqrs.EventBus);

  const ourPub1 = (e: BenchEvent) => ourEvents1.publish(e);
  const ourPub3 = (e: BenchEvent) => ourEvents3.publish(e);
  const ourEventsByName = oursByName.get(EventBus);
  const ourPubByName = (e: BenchEvent) => ourEventsByName.publish(e);
  const cqrsPub1 = (e: BenchEvent) => cqrsEvents1.publish(e);
  const cqrsPub3 = (e: BenchEvent) => cqrsEvents3.publish(e);

  const headline: Array<[Scenario, number]> = [
    [
      {
        name: 'CommandBus.execute',
        ours: sequentialRequests((i) => ourCommands.execute(new OursCreateOrder('o-1', i))),
        cqrs: sequentialRequests((i) => cqrsCommands.execute(new CqrsCreateOrder('o-1', i))),
      },
      1.0,
    ],
    [
      {
        name: 'QueryBus.execute',
        ours: sequentialRequests(() => ourQueries.execute(new OursGetOrder('o-1'))),
        cqrs: sequentialRequests(() => cqrsQueries.execute(new CqrsGetOrder('o-1'))),
      },
      1.0,
    ],
    [
      {
        name: 'EventBus.publish → 1 subscriber',
        ours: sequentialEvents(ourPub1, oursHits, 1),
        cqrs: sequentialEvents(cqrsPub1, cqrsHits, 1),
      },
      0.8,
    ],
    [
      {
        name: 'EventBus.publish → 3 subscribers',
        ours: sequentialEvents(ourPub3, oursHits, 3),
        cqrs: sequentialEvents(cqrsPub3, cqrsHits, 3),
      },
      0.8,
    ],
  ];
  const secondary: Scenario[] = [
    {
      name: "publish → 1 sub, @Subscribe('BenchEvent')",
      ours: sequentialEvents(ourPubByName, oursHits, 1),
      cqrs: sequentialEvents(cqrsPub1, cqrsHits, 1),
    },
    {
      name: 'publish → 1 sub, pipelined',
      ours: pipelinedEvents(ourPub1, oursHits, 1),
      cqrs: pipelinedEvents(cqrsPub1, cqrsHits, 1),
    },
    {
      name: 'publish → 3 subs, pipelined',
      ours: pipelinedEvents(ourPub3, oursHits, 3),
      cqrs: pipelinedEvents(cqrsPub3, cqrsHits, 3),
    },
  ];

  console.log(
    `nestjs-messaging in-memory benchmark — Node ${process.version} (${process.platform}/${process.arch}), @nestjs/cqrs ${cqrsVersion()}`,
  );
  console.log(
    `${ROUNDS} interleaved rounds per scenario, ~${ROUND_MS} ms each after ${WARMUP_MS} ms warm-up; median ops/s (±half-range of rounds)`,
  );
  console.log(
    'per op, ours: UUID v7 id, metadata envelope (time, source, correlation/causation), AsyncLocalStorage context;',
  );
  console.log(
    '  commands/queries: id and ISO time (one clock reading) made on first read (these handlers never read them);',
  );
  console.log(
    '  events also: CloudEvents JSON encode, then per delivery (async, via the in-memory queue) a JSON decode + checks,',
  );
  console.log(
    '  a class rebuild (class-transformer) for @Subscribe(Class), the retry/timeout wrapper and subscriber stats.',
  );
  console.log(
    'per op, cqrs: handler lookup by class id, rxjs Subject.next (command/query published to the saga stream);',
  );
  console.log('  events: rxjs filter + mergeMap per handler, handler called synchronously with the same object.');
  console.log('events: the clock stops when all N × subscribers handler calls have run.');
  // On Node < 22 an active AsyncLocalStorage installs promise hooks that slow every promise in
  // the process, cqrs' included. Measure cqrs once before our first dispatch turns them on.
  if (!ONLY || ONLY.test('CommandBus.execute')) {
    const rounds: number[] = [];
    const alone = sequentialRequests((i) => cqrsCommands.execute(new CqrsCreateOrder('o-1', i)));
    await opsPerSec(alone, 200_000); // warm-up
    for (let r = 0; r < 5; r++) rounds.push(await opsPerSec(alone, 100_000));
    console.log(
      `context: cqrs CommandBus.execute before any AsyncLocalStorage is active: ${fmt(median(rounds)).trim()} ops/s (the table's cqrs figures run with our ALS hooks on, as in any app using ALS)`,
    );
  }
  console.log('');
  console.log(`${'scenario'.padEnd(42)}${'ours ops/s'.padStart(17)}${'cqrs ops/s'.padStart(17)}   ours/cqrs`);

  const results: Result[] = [];
  for (const [s, target] of headline) {
    if (ONLY && !ONLY.test(s.name)) continue;
    const r = await measure(s);
    results.push(r);
    printRow(r, target);
  }
  if (!ONLY || secondary.some((s) => ONLY.test(s.name)))
    console.log(
      `-- secondary (not the headline): by type name (plain payload); pipelined = windows of ${PIPELINE_WINDOW} un-awaited publishes`,
    );
  for (const s of secondary) if (!ONLY || ONLY.test(s.name)) printRow(await measure(s));

  await Promise.all([ours1.close(), ours3.close(), oursByName.close(), cqrs1.close(), cqrs3.close()]);
  const targetOf = (r: Result) => headline.find(([s]) => s.name === r.name)![1];
  const missed = results.filter((r) => r.ours / r.cqrs < targetOf(r)).map((r) => r.name);
  console.log(
    `\n${missed.length === 0 ? 'all targets met' : `targets missed: ${missed.join(', ')}`} (${((performance.now() - began) / 1000).toFixed(1)} s)`,
  );
}

function cqrsVersion(): string {
  try {
    return (require('@nestjs/cqrs/package.json') as { version: string }).version;
  } catch {
    return '?';
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
