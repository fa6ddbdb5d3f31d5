import { Logger } from '@nestjs/common';
import type { DeadLetter } from '../../lib/dead-letter/dead-letter.interface';
import type { DeadLetterRecords } from '../../lib/dead-letter/dead-letter-records';
import { FailureGroupTracker } from '../../lib/monitoring/dead-letters/failure-group-tracker';

/* The alert's failure group while the durable dead-letter table is slow, hung or back again. */
let seq = 0;
function deadLetter(subscriber: string): DeadLetter {
  const id = `dl-${++seq}`;
  const now = new Date().toISOString();
  return {
    id,
    messageId: `m-${seq}`,
    type: 'Ordered',
    body: '{}',
    subscriber,
    sourceQueue: `svc.${subscriber}`,
    error: { name: 'Error', message: 'broken' },
    attempts: 1,
    firstFailureAt: now,
    lastFailureAt: now,
    deadLetteredAt: now,
  };
}

type Answer = { openBefore: number; inserted: boolean };
const never = () => new Promise<Answer>(() => undefined);

/** Durable records whose `record` does what `impl` says; the calls are kept. */
function records(impl: (dl: DeadLetter) => Promise<Answer>): DeadLetterRecords & { calls: string[] } {
  const calls: string[] = [];
  return {
    table: 'dead_letters',
    calls,
    record: (dl) => {
      calls.push(dl.id);
      return impl(dl);
    },
    mark: () => Promise.resolve(0),
    list: () => Promise.resolve([]),
  };
}

const within = async <T>(ms: number, promise: Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
};

describe('FailureGroupTracker with a slow or hung durable table', () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it("a record() that never resolves does not block the next dead letter's alert; one warning per outage", async () => {
    const db = records(never);
    const tracker = new FailureGroupTracker(() => db, { recordTimeoutMs: 50 });
    const first = await within(1000, tracker.track(deadLetter('shipping')));
    expect(first).toMatchObject({ subscriber: 'shipping', state: 'new', count: 1 });
    // the table is in an outage now: the next alerts come at once, counted in memory
    const second = await within(20, tracker.track(deadLetter('shipping')));
    expect(second).toMatchObject({ id: first.id, state: 'growing', count: 2 });
    expect(await within(20, tracker.track(deadLetter('billing')))).toMatchObject({ state: 'new', count: 1 });
    expect(db.calls).toHaveLength(3); // still written in the background, for the history
    expect(tracker.stats()).toEqual({ pending: 3, dropped: 0, outage: true });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/did not answer within 50 ms/);
  });

  it('serializes per group only: a hung write of one group does not hold another group', async () => {
    const db = records((dl) =>
      dl.subscriber === 'slow' ? never() : Promise.resolve({ openBefore: 4, inserted: true }),
    );
    const tracker = new FailureGroupTracker(() => db, { recordTimeoutMs: 5_000 });
    const hung = tracker.track(deadLetter('slow'));
    expect(await within(200, tracker.track(deadLetter('fast')))).toMatchObject({ state: 'growing', count: 5 });
    expect(tracker.stats().outage).toBe(false);
    void hung;
  });

  it('within a group, a dead letter is recorded only after the previous one was answered', async () => {
    let release!: (a: Answer) => void;
    const first = new Promise<Answer>((r) => (release = r));
    const db = records(() => (db.calls.length === 1 ? first : Promise.resolve({ openBefore: 1, inserted: true })));
    const tracker = new FailureGroupTracker(() => db, { recordTimeoutMs: 5_000 });
    const a = tracker.track(deadLetter('shipping'));
    const b = tracker.track(deadLetter('shipping'));
    await new Promise((r) => setTimeout(r, 20));
    expect(db.calls).toHaveLength(1);
    release({ openBefore: 0, inserted: true });
    expect(await a).toMatchObject({ state: 'new', count: 1 });
    expect(await b).toMatchObject({ state: 'growing', count: 2 });
    expect(db.calls).toHaveLength(2);
  });

  it('beyond maxPending waiting writes, alerts at once without a durable record and counts the drops', async () => {
    const db = records(never);
    const tracker = new FailureGroupTracker(() => db, { recordTimeoutMs: 10, maxPending: 2 });
    await tracker.track(deadLetter('a'));
    await tracker.track(deadLetter('b'));
    expect(await within(20, tracker.track(deadLetter('a')))).toMatchObject({ state: 'growing', count: 2 });
    expect(await within(20, tracker.track(deadLetter('c')))).toMatchObject({ state: 'new', count: 1 });
    expect(db.calls).toHaveLength(2); // the dropped ones hold no write (nor their bodies)
    expect(tracker.stats()).toEqual({ pending: 2, dropped: 2, outage: true });
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringContaining('did not answer'),
      expect.stringContaining('without a durable record'),
    ]);
  });

  it('ends the outage when a write succeeds: later alerts wait for the durable counts again', async () => {
    const answers: Array<(a: Answer) => void> = [];
    const db = records(() => new Promise<Answer>((r) => answers.push(r)));
    const tracker = new FailureGroupTracker(() => db, { recordTimeoutMs: 30 });
    expect(await tracker.track(deadLetter('shipping'))).toMatchObject({ state: 'new', count: 1 });
    expect(tracker.stats().outage).toBe(true);
    answers[0]({ openBefore: 0, inserted: true }); // the late answer: the database is back
    await new Promise((r) => setImmediate(r));
    expect(tracker.stats()).toEqual({ pending: 0, dropped: 0, outage: false });
    expect(log).toHaveBeenCalledWith(expect.stringContaining('answers again'));
    const next = tracker.track(deadLetter('shipping'));
    await new Promise((r) => setTimeout(r, 5));
    answers[1]({ openBefore: 7, inserted: true });
    expect(await next).toMatchObject({ state: 'growing', count: 8 });
  });

  it('without the durable table, counts in memory', async () => {
    const tracker = new FailureGroupTracker();
    expect(await tracker.track(deadLetter('x'))).toMatchObject({ state: 'new', count: 1 });
    expect(await tracker.track(deadLetter('x'))).toMatchObject({ state: 'growing', count: 2 });
  });
});
