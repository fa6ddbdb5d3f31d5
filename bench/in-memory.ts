/**
 * In-process throughput of our buses beside `@nestjs/cqrs` 11's, measured in the same run.
 *
 *   npm run bench:memory            (BENCH_ROUNDS=7 BENCH_ROUND_MS=120 to tune)
 *
 * Method: each scenario builds the same handlers on both sides, warms up, calibrates N so a
 * round lasts about BENCH_ROUND_MS, then runs BENCH_ROUNDS rounds of N ops per side,
 * interleaving ours and cqrs (alternating which goes first) so both share the machine's noise.
 * Reported: median ops/s per side, its spread over rounds, and the ratio of the medians.
 *
 * cqrs runs **bare**: in a child process of its own (bench/in-memory-cqrs.ts) that never loads this
 * library, so none of our AsyncLocalStorage (whose promise hooks slow every promise on Node 20) is
 * active there. Ours runs with the library's default options (in-memory transport).
 *
 * Events: a round's clock stops only when every handler invocation (N × subscribers) has run.
 * cqrs calls its handlers from `publish()` with the same object; ours delivers asynchronously
 * through the in-memory transport, each subscriber decoding its own copy of the CloudEvents body.
 * Headline: subscribers that are `async` (they await something, as subscribers doing I/O do) and
 * `await publish()` one after another. Secondary: synchronous subscribers, pipelined publishes.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Injectable, Module, type DynamicModule, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
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
import {
  HitCounter,
  PIPELINE_WINDOW,
  pipelinedEvents,
  sequentialEvents,
  sequentialRequests,
  type Round,
  type RoundReply,
  type ScenarioKey,
} from './in-memory-rounds';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 120);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 400);
/** Only scenarios whose name matches (for profiling one of them). */
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, 'i') : undefined;

const hits = new HitCounter();

// ---------------------------------------------------------------- our messages and handlers

class CreateOrder {
  constructor(
    readonly orderId: string,
    readonly amount: number,
  ) {}
}
class GetOrder {
  constructor(readonly orderId: string) {}
}
@Message('BenchEvent')
class BenchEvent {
  constructor(
    readonly orderId: string,
    readonly customerId: string,
    readonly totalAmount: number,
  ) {}
}
@Message('BenchEventSync')
class BenchEventSync extends BenchEvent {}
const ORDER = { id: 'o-1', status: 'created' };

@CommandHandler(CreateOrder)
class CreateOrderHandler implements ICommandHandler<CreateOrder> {
  async execute(c: CreateOrder) {
    return c.amount;
  }
}
@QueryHandler(GetOrder)
class GetOrderHandler implements IQueryHandler<GetOrder> {
  async execute() {
    return ORDER;
  }
}
/** Subscribers as classes made per app, each with a name of its own (the classes share theirs). */
let subscribers = 0;
const asyncSubscriber = () => {
  @Injectable()
  class AsyncSub {
    @Subscribe(BenchEvent, { name: `async-${++subscribers}` })
    async on(_e: BenchEvent) {
      await Promise.resolve();
      hits.hit();
    }
  }
  return AsyncSub;
};
const syncSubscriber = () => {
  @Injectable()
  class SyncSub {
    @Subscribe(BenchEventSync, { name: `sync-${++subscribers}` })
    on(_e: BenchEventSync) {
      hits.hit();
    }
  }
  return SyncSub;
};

function app(providers: Type[]): Promise<INestApplicationContext> {
  @Module({ imports: [MessagingModule.forRoot({ serviceName: 'bench' }) as DynamicModule], providers })
  class OursBenchModule {}
  return NestFactory.createApplicationContext(OursBenchModule, { logger: false, abortOnError: false });
}

// ---------------------------------------------------------------- the cqrs process

/** Starts bench/in-memory-cqrs (compiled next to this file); resolves its cqrs version once ready. */
function startCqrs(): Promise<{ child: ChildProcess; version: string; round: (key: ScenarioKey) => Round }> {
  const child = fork(join(__dirname, 'in-memory-cqrs.js'), { stdio: 'inherit' });
  let pending: ((ms: number) => void) | undefined;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the cqrs process exited (${code})`)));
    child.on('message', (reply: RoundReply) => {
      if ('ready' in reply) {
        resolve({
          child,
          version: reply.version,
          round: (key) => (n) =>
            new Promise<number>((done) => {
              pending = done;
              child.send({ key, n });
            }),
        });
      } else pending?.(reply.ms);
    });
  });
}

// ---------------------------------------------------------------- measurement

interface Scenario {
  name: string;
  ours: Round;
  cqrs: Round;
  /** Target of ours / cqrs, for the headline rows. */
  target?: number;
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
  return (n * 1000) / (await round(n));
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

// ---------------------------------------------------------------- report

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(11);

function spread(xs: number[]): string {
  const m = median(xs);
  return `±${Math.round(((Math.max(...xs) - Math.min(...xs)) / 2 / m) * 100)}%`.padStart(5);
}

function printRow(r: Result, target?: number): void {
  const ratio = r.ours / r.cqrs;
  const verdict = target === undefined ? '' : `  ${ratio >= target ? 'ok' : 'MISSED'} (target ≥ ${target.toFixed(1)})`;
  console.log(
    `${r.name.padEnd(44)}${fmt(r.ours)} ${spread(r.oursRounds)}${fmt(r.cqrs)} ${spread(r.cqrsRounds)}   ${ratio.toFixed(2).padStart(5)}  N=${r.n}${verdict}`,
  );
}

async function main(): Promise<void> {
  const began = performance.now();
  const cqrs = await startCqrs();
  const [one, three] = await Promise.all([
    app([CreateOrderHandler, GetOrderHandler, asyncSubscriber(), syncSubscriber()]),
    app([
      asyncSubscriber(),
      asyncSubscriber(),
      asyncSubscriber(),
      syncSubscriber(),
      syncSubscriber(),
      syncSubscriber(),
    ]),
  ]);
  const commands = one.get(CommandBus);
  const queries = one.get(QueryBus);
  const events1 = one.get(EventBus);
  const events3 = three.get(EventBus);
  const pub = (bus: EventBus) => (i: number) => bus.publish(new BenchEvent(`o-${i}`, 'c-1', i));
  const pubSync = (bus: EventBus) => (i: number) => bus.publish(new BenchEventSync(`o-${i}`, 'c-1', i));

  const headline: Scenario[] = [
    {
      name: 'CommandBus.execute',
      ours: sequentialRequests((i) => commands.execute(new CreateOrder('o-1', i))),
      cqrs: cqrs.round('command'),
      target: 1.0,
    },
    {
      name: 'QueryBus.execute',
      ours: sequentialRequests(() => queries.execute(new GetOrder('o-1'))),
      cqrs: cqrs.round('query'),
      target: 1.0,
    },
    {
      name: 'EventBus.publish → 1 async subscriber',
      ours: sequentialEvents(pub(events1), hits, 1),
      cqrs: cqrs.round('event1-async'),
      target: 0.8,
    },
    {
      name: 'EventBus.publish → 3 async subscribers',
      ours: sequentialEvents(pub(events3), hits, 3),
      cqrs: cqrs.round('event3-async'),
      target: 0.8,
    },
  ];
  const secondary: Scenario[] = [
    {
      name: 'publish → 1 sync subscriber',
      ours: sequentialEvents(pubSync(events1), hits, 1),
      cqrs: cqrs.round('event1-sync'),
    },
    {
      name: 'publish → 3 sync subscribers',
      ours: sequentialEvents(pubSync(events3), hits, 3),
      cqrs: cqrs.round('event3-sync'),
    },
    {
      name: 'publish → 1 async sub, pipelined',
      ours: pipelinedEvents(pub(events1), hits, 1),
      cqrs: cqrs.round('event1-async-pipelined'),
    },
    {
      name: 'publish → 3 async subs, pipelined',
      ours: pipelinedEvents(pub(events3), hits, 3),
      cqrs: cqrs.round('event3-async-pipelined'),
    },
  ];

  console.log(
    `nestjs-messaging in-memory benchmark — Node ${process.version} (${process.platform}/${process.arch}), @nestjs/cqrs ${cqrs.version} bare (own process)`,
  );
  console.log(
    `${ROUNDS} interleaved rounds per scenario, ~${ROUND_MS} ms each after ${WARMUP_MS} ms warm-up; median ops/s (±half-range of rounds)`,
  );
  console.log(
    'per op, ours: UUID v7 id, metadata envelope (time, source, correlation/causation), AsyncLocalStorage context;',
  );
  console.log(
    '  events also: CloudEvents JSON encode, then per delivery (async, via the in-memory queue) a JSON decode + checks,',
  );
  console.log('  a class rebuild for @Subscribe(Class), the retry/timeout wrapper and subscriber stats.');
  console.log(
    'per op, cqrs: handler lookup by class id, rxjs Subject.next; events: rxjs filter + mergeMap per handler.',
  );
  console.log('');
  console.log(`${'scenario'.padEnd(44)}${'ours ops/s'.padStart(17)}${'cqrs ops/s'.padStart(17)}   ours/cqrs`);

  const results: Array<[Result, number]> = [];
  for (const s of headline) {
    if (ONLY && !ONLY.test(s.name)) continue;
    const r = await measure(s);
    results.push([r, s.target!]);
    printRow(r, s.target);
  }
  if (!ONLY || secondary.some((s) => ONLY.test(s.name)))
    console.log(`-- secondary (not the headline): pipelined = windows of ${PIPELINE_WINDOW} un-awaited publishes`);
  for (const s of secondary) if (!ONLY || ONLY.test(s.name)) printRow(await measure(s));

  await Promise.all([one.close(), three.close()]);
  cqrs.child.removeAllListeners('exit');
  cqrs.child.send('exit');
  const missed = results.filter(([r, target]) => r.ours / r.cqrs < target).map(([r]) => r.name);
  console.log(
    `\n${missed.length === 0 ? 'all targets met' : `targets missed: ${missed.join(', ')}`} (${((performance.now() - began) / 1000).toFixed(1)} s)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
