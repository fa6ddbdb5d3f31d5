import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { currentMessageContext, runInMessageContext } from '../../lib/context/message-context';
import type { UnitOfWorkLimits } from '../../lib/consumer/unit-of-work.interface';
import { TransactionNotActiveError } from '../../lib';
import { DeliveryNotStartedError } from '../../lib/errors/delivery-not-started.error';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';

/*
 * Group commit of the inbox (lib/inbox/commit-group.ts): deliveries that queue behind a busy
 * transaction share one, and one failing, hanging or duplicate delivery never changes its
 * neighbours' outcome.
 */
const tables = uniqueTables('tgrp');
let ds: DataSource;
let f: OutboxFeature;

beforeAll(async () => {
  ds = await pgDataSource(tables);
  f = new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable },
    ds,
    new FakeTransport(),
    testLogger(),
  );
});
afterAll(async () => {
  await dropAll(ds, tables);
});
beforeEach(async () => {
  await ds.query(`DELETE FROM "${tables.inboxTable}"`);
  await ds.query(`DELETE FROM "${tables.ordersTable}"`);
});

class Timeout extends Error {}
const limits = (timeoutMs = 5000, groupSize = 10): UnitOfWorkLimits => ({
  timeoutMs,
  timeoutError: () => new Timeout('timed out'),
  groupSize,
  lanes: 1,
});
type Tx = { query(sql: string, p?: unknown[]): Promise<Array<Record<string, unknown>>> };
const effects = async () =>
  (await ds.query(`SELECT id FROM "${tables.ordersTable}" ORDER BY id`)).map((r: { id: string }) => r.id);

/** Runs `count` deliveries at once through one subscriber; `work(i, tx)` is the handler of the i-th. */
function deliver(count: number, work: (i: number, tx: Tx) => Promise<void>, l = limits(), subscriber = 'Sub.g') {
  const messages = Array.from({ length: count }, (_, i) => outbound('OrderCreated', { i }));
  return Promise.allSettled(
    messages.map((m, i) =>
      runInMessageContext({ correlationId: `c${i}`, message: m.envelope, kind: 'event', subscriber }, () =>
        f.unitOfWork!.run(m.envelope, subscriber, (tx) => work(i, tx as Tx), l),
      ),
    ),
  );
}

describe('inbox group commit on PostgreSQL', () => {
  it('deliveries queued behind a busy transaction share one; each handler sees its own message context', async () => {
    const txids = new Map<number, string>();
    const results = await deliver(30, async (i, tx) => {
      expect(currentMessageContext()?.correlationId).toBe(`c${i}`);
      expect(currentMessageContext()?.transaction).toBe(tx);
      const [{ t }] = await tx.query('SELECT txid_current()::text AS t');
      txids.set(i, String(t));
      await tx.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, [`o${String(i).padStart(2, '0')}`]);
    });
    expect(results.map((r) => r.status === 'fulfilled' && r.value)).toEqual(Array(30).fill(true));
    expect(await effects()).toHaveLength(30);
    // the first runs alone (a lane was free), the other 29 queue: groups of at most 10
    const distinct = new Set(txids.values()).size;
    expect(distinct).toBeGreaterThanOrEqual(4);
    expect(distinct).toBeLessThanOrEqual(5);
    expect(Number((await ds.query(`SELECT count(*)::int AS n FROM "${tables.inboxTable}"`))[0].n)).toBe(30);
  });

  it('a failing handler in a group: its neighbours commit once each, it fails alone with its own error', async () => {
    const runs = new Map<number, number>();
    const results = await deliver(10, async (i, tx) => {
      runs.set(i, (runs.get(i) ?? 0) + 1);
      await tx.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, [`f${i}`]);
      if (i === 5) throw new Error('boom 5');
    });
    expect(results[5]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: 'boom 5' }) });
    expect(results.filter((r) => r.status === 'fulfilled' && r.value === true)).toHaveLength(9);
    expect(await effects()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f6', 'f7', 'f8', 'f9']);
    // the group (deliveries 1..9) was rolled back and each ran again alone: the inbox keeps one effect each
    expect(runs.get(0)).toBe(1);
    expect(runs.get(5)).toBe(2);
    const inbox = await ds.query(`SELECT count(*)::int AS n FROM "${tables.inboxTable}"`);
    expect(inbox[0].n).toBe(9);
  });

  it('a handler that hangs in a group fails with its timeout; the others commit and the message can run again', async () => {
    const messages = Array.from({ length: 6 }, (_, i) => outbound('OrderCreated', { i }));
    const started = Date.now();
    const results = await Promise.allSettled(
      messages.map((m, i) =>
        f.unitOfWork!.run(
          m.envelope,
          'Sub.h',
          async (tx) => {
            await (tx as Tx).query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, [`h${i}`]);
            if (i === 3) await new Promise(() => undefined); // never settles
          },
          limits(400),
        ),
      ),
    );
    expect(results[3]).toMatchObject({ status: 'rejected', reason: expect.any(Timeout) });
    expect(results.filter((r) => r.status === 'fulfilled' && r.value === true)).toHaveLength(5);
    expect(await effects()).toEqual(['h0', 'h1', 'h2', 'h4', 'h5']);
    // the hung handler's time was spent once: it is not run again inside the attempt
    expect(Date.now() - started).toBeLessThan(3000);
    // its transaction was abandoned: a new delivery of the message is not blocked by a lock
    expect(
      await f.unitOfWork!.run(
        messages[3].envelope,
        'Sub.h',
        async (tx) => {
          await (tx as Tx).query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('h3')`);
        },
        limits(2000),
      ),
    ).toBe(true);
  });

  it('a handler that returns after its timeout: nothing more of its abandoned group runs', async () => {
    const runs: number[] = [];
    const messages = Array.from({ length: 6 }, (_, i) => outbound('OrderCreated', { i }));
    const results = await Promise.allSettled(
      messages.map((m, i) =>
        f.unitOfWork!.run(
          m.envelope,
          'Sub.late',
          async (tx) => {
            runs[i] = (runs[i] ?? 0) + 1;
            await (tx as Tx).query('SELECT 1').catch(() => undefined);
            if (i === 2 && runs[i] === 1) await new Promise((r) => setTimeout(r, 700)); // returns, too late
          },
          limits(300),
        ),
      ),
    );
    await new Promise((r) => setTimeout(r, 800)); // the late handler has returned by now
    expect(results[2]).toMatchObject({ status: 'rejected', reason: expect.any(Timeout) });
    // 0 alone; 1 in the group, then alone; 3..5 never ran in the abandoned group, only alone
    expect(runs).toEqual([1, 2, 1, 1, 1, 1]);
    // work that outlives its handler's transaction cannot open a new one in its place
    const closed = (await ds.createQueryRunner()).manager;
    await expect(
      runInMessageContext({ correlationId: 'c', kind: 'event', transaction: closed }, () =>
        f.transactions.run(async () => 'ran'),
      ),
    ).rejects.toThrow(TransactionNotActiveError);
  });

  it('duplicates in and across groups are skipped: two deliveries of one message in a group, one already processed', async () => {
    const done = outbound('OrderCreated', { done: true });
    expect(await f.unitOfWork!.run(done.envelope, 'Sub.d', async () => undefined, limits())).toBe(true);
    const twice = outbound('OrderCreated', { twice: true });
    const blocker = outbound('OrderCreated', { first: true });
    const ran: string[] = [];
    const handler = (name: string) => async (tx: unknown) => {
      ran.push(name);
      await (tx as Tx).query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, [name]);
    };
    const outcome = await Promise.all([
      f.unitOfWork!.run(blocker.envelope, 'Sub.d', handler('blocker'), limits()),
      f.unitOfWork!.run(twice.envelope, 'Sub.d', handler('twice'), limits()),
      f.unitOfWork!.run(twice.envelope, 'Sub.d', handler('twice-again'), limits()),
      f.unitOfWork!.run(done.envelope, 'Sub.d', handler('done-again'), limits()),
    ]);
    expect(outcome).toEqual([true, true, false, false]);
    expect(ran).toEqual(['blocker', 'twice']);
  });

  it("restores the caller's async context (e.g. a tracing span) around the handler", async () => {
    const span = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    await Promise.all(
      [0, 1, 2, 3].map((i) => {
        const m = outbound('OrderCreated', { i });
        return span.run(`span-${i}`, () =>
          f.unitOfWork!.run(
            m.envelope,
            'Sub.s',
            async () => {
              seen[i] = span.getStore();
            },
            limits(),
          ),
        );
      }),
    );
    expect(seen).toEqual(['span-0', 'span-1', 'span-2', 'span-3']);
  });

  it('stopping: deliveries still queued are given up unrun (not started); a group under way commits', async () => {
    const stop = new AbortController();
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const ran: number[] = [];
    const settled = deliver(
      6,
      async (i, tx) => {
        ran.push(i);
        await tx.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, [`s${i}`]);
        if (i === 1) await held; // the second group ([1, 2]) is under way when the consumer stops
      },
      { ...limits(5000, 2), stopping: stop.signal },
    );
    // 0 runs alone (a lane was free), then [1, 2] is taken; 3, 4 and 5 still queue
    for (let i = 0; i < 200 && !ran.includes(1); i++) await new Promise((r) => setTimeout(r, 10));
    expect(ran).toEqual([0, 1]);
    stop.abort();
    release();
    const results = await settled;
    expect(results.slice(0, 3).map((r) => r.status === 'fulfilled' && r.value)).toEqual([true, true, true]);
    for (const r of results.slice(3)) {
      expect(r).toMatchObject({ status: 'rejected', reason: expect.any(DeliveryNotStartedError) });
    }
    expect(ran).toEqual([0, 1, 2]);
    expect(await effects()).toEqual(['s0', 's1', 's2']);
    expect(Number((await ds.query(`SELECT count(*)::int AS n FROM "${tables.inboxTable}"`))[0].n)).toBe(3);
    // given up already: a delivery arriving after the signal aborted is not started either
    const [late] = await deliver(1, async () => void ran.push(99), { ...limits(5000, 2), stopping: stop.signal });
    expect(late).toMatchObject({ status: 'rejected', reason: expect.any(DeliveryNotStartedError) });
    expect(ran).not.toContain(99);
  });

  it('groupSize 1: every delivery has a transaction of its own', async () => {
    const txids = new Set<string>();
    await deliver(
      6,
      async (_i, tx) => {
        const [{ t }] = await tx.query('SELECT txid_current()::text AS t');
        txids.add(String(t));
      },
      limits(5000, 1),
    );
    expect(txids.size).toBe(6);
  });
});
