/**
 * The transport contract suite: every MessageTransport must pass it (the Watermill idea: two
 * small interfaces, one shared suite). Run it from a transport's spec file:
 *
 *   runTransportContract('memory', () => inMemoryHarness());
 */
import { randomBytes } from 'node:crypto';
import type {
  DeliveryHandler,
  DeliveryOutcome,
  InboundMessage,
  MessageTransport,
  OutboundMessage,
  SubscriberDescriptor,
} from '../../lib/transport/transport.interface';
import type { DeadLetter } from '../../lib/dead-letter/dead-letter.interface';
import { encodeEnvelope, decodeEnvelope } from '../../lib/message/cloudevents.codec';
import { EnvelopeFactory } from '../../lib/message/envelope.factory';
import { waitFor } from '../setup/wait';
import { runRemoteContract } from './remote-contract';

export { waitFor };

/** What a transport's spec provides to the suite. */
export interface ContractHarness {
  /** A new, unconnected transport instance. Instances of one harness share one broker. */
  create(): MessageTransport;
  /** Removes everything the suite declared (queues, exchanges) for these service names. */
  cleanup(serviceNames: string[]): Promise<void>;
  /** Optional features (as Watermill's universal suite has). */
  features: {
    /** Several instances of one service share a subscriber's queue. */
    competingConsumers: boolean;
  };
  /** Upper bound for one delivery to arrive, ms. */
  timeoutMs?: number;
}

const ACK: DeliveryOutcome = { status: 'ack' };

function descriptor(name: string, types: string[], concurrency = 10): SubscriberDescriptor {
  return { name, types, concurrency, retryDelaysMs: [50, 100, 200] };
}

/** Registers the contract tests in the current describe block. */
export function runTransportContract(
  name: string,
  makeHarness: () => ContractHarness | Promise<ContractHarness>,
): void {
  describe(`transport contract: ${name}`, () => {
    let harness: ContractHarness;
    const open: MessageTransport[] = [];
    const services: string[] = [];
    let deadLetters: DeadLetter[] = [];
    const runId = randomBytes(3).toString('hex');
    let counter = 0;

    beforeAll(async () => {
      harness = await makeHarness();
    });

    afterEach(async () => {
      await Promise.all(open.splice(0).map((t) => t.close(1000).catch(() => undefined)));
    });

    afterAll(async () => {
      await harness.cleanup(services);
    });

    function service(): string {
      const s = `contract-${runId}-${++counter}`;
      services.push(s);
      return s;
    }

    async function connect(serviceName: string): Promise<MessageTransport> {
      const t = harness.create();
      await t.connect({ serviceName, onDeadLetter: (dl) => deadLetters.push(dl) });
      open.push(t);
      return t;
    }

    function message(
      serviceName: string,
      type: string,
      data: unknown,
      extra: Partial<OutboundMessage> = {},
    ): OutboundMessage {
      const envelope = new EnvelopeFactory(serviceName).create(type, 1, data, { headers: { tenant: 'acme' } });
      return { envelope, body: encodeEnvelope(envelope), ...extra };
    }

    function recorder(outcome: (m: InboundMessage) => DeliveryOutcome | Promise<DeliveryOutcome> = () => ACK) {
      const received: InboundMessage[] = [];
      const handler: DeliveryHandler = async (m) => {
        received.push(m);
        return outcome(m);
      };
      return { received, handler };
    }

    const within = () => harness.timeoutMs ?? 10_000;

    const isSentinel = (m: InboundMessage) => (decodeEnvelope(m.body).data as { sentinel?: boolean }).sentinel === true;
    /** What a recorder received, sentinels left out. */
    const real = (r: { received: InboundMessage[] }) => r.received.filter((m) => !isSentinel(m));

    /**
     * A barrier instead of a sleep: publishes a sentinel behind what was sent and waits until each
     * of `recorders` got it (`some`: one of them, for competing consumers). A queue delivers in
     * order, so anything sent earlier (a late duplicate included) has arrived by then.
     */
    async function barrier(
      t: MessageTransport,
      s: string,
      type: string,
      recorders: Array<{ received: InboundMessage[] }>,
      options: { destination?: string; some?: boolean } = {},
    ): Promise<void> {
      const sentinel = message(s, type, { sentinel: true }, { destination: options.destination });
      await t.publish(sentinel);
      const got = (r: { received: InboundMessage[] }) =>
        r.received.some((m) => decodeEnvelope(m.body).id === sentinel.envelope.id);
      await waitFor(() => (options.some ? recorders.some(got) : recorders.every(got)), 'the sentinel', within());
    }

    beforeEach(() => {
      deadLetters = [];
    });

    runRemoteContract(() => ({ service, connect, message, recorder: () => recorder(), within }));

    it('fans an event out to every subscriber of its type, and only to them', async () => {
      const s = service();
      const t = await connect(s);
      const a = recorder();
      const b = recorder();
      const other = recorder();
      await t.subscribe(descriptor('a', ['Created']), a.handler);
      await t.subscribe(descriptor('b', ['Created', 'Deleted']), b.handler);
      await t.subscribe(descriptor('other', ['Unrelated']), other.handler);
      for (let i = 0; i < 10; i++) await t.publish(message(s, 'Created', { i }));
      await t.publish(message(s, 'Deleted', { i: 99 }));
      await waitFor(() => a.received.length === 10 && b.received.length === 11, 'fan-out', within());
      await barrier(t, s, 'Created', [a, b]);
      expect(real(a)).toHaveLength(10);
      expect(real(b)).toHaveLength(11);
      expect(other.received).toHaveLength(0);
      expect(a.received.every((m) => m.attempt === 1)).toBe(true);
    });

    it('preserves the body and metadata end to end', async () => {
      const s = service();
      const t = await connect(s);
      const r = recorder();
      await t.subscribe(descriptor('meta', ['MetaChecked']), r.handler);
      const sent = message(s, 'MetaChecked', {
        orderId: 'o-1',
        total: 42.5,
        nested: { list: [1, 'two', null] },
        text: 'héllo ✓',
      });
      await t.publish(sent);
      await waitFor(() => r.received.length === 1, 'delivery', within());
      const body = r.received[0].body;
      expect(typeof body === 'string' ? body : body.toString('utf8')).toBe(sent.body);
      expect(decodeEnvelope(body)).toEqual(sent.envelope);
    });

    it('delivers a message with a destination to that one subscriber only', async () => {
      const s = service();
      const t = await connect(s);
      const a = recorder();
      const b = recorder();
      await t.subscribe(descriptor('a', ['Targeted']), a.handler);
      await t.subscribe(descriptor('b', ['Targeted']), b.handler);
      await t.publish(
        message(s, 'Targeted', {}, { destination: 'b', attempt: 3, firstFailureAt: '2026-01-01T00:00:00.000Z' }),
      );
      await waitFor(() => b.received.length === 1, 'targeted delivery', within());
      await barrier(t, s, 'Targeted', [a], { destination: 'a' });
      expect(real(a)).toHaveLength(0);
      expect(real(b)).toHaveLength(1);
      expect(b.received[0].attempt).toBe(3);
      expect(b.received[0].firstFailureAt).toBe('2026-01-01T00:00:00.000Z');
    });

    it('retries the failed subscriber only, with the attempt counted, then succeeds', async () => {
      const s = service();
      const t = await connect(s);
      const failing = recorder((m) =>
        m.attempt < 3
          ? {
              status: 'retry',
              delayMs: 50,
              nextAttempt: m.attempt + 1,
              error: { name: 'Error', message: 'flaky' },
              firstFailureAt: m.firstFailureAt ?? '2026-01-02T00:00:00.000Z',
            }
          : ACK,
      );
      const healthy = recorder();
      await t.subscribe(descriptor('failing', ['Flaky']), failing.handler);
      await t.subscribe(descriptor('healthy', ['Flaky']), healthy.handler);
      const sent = message(s, 'Flaky', { n: 1 });
      await t.publish(sent);
      await waitFor(() => failing.received.length === 3, 'three attempts', within());
      await barrier(t, s, 'Flaky', [failing, healthy]);
      expect(real(failing).map((m) => m.attempt)).toEqual([1, 2, 3]);
      expect(failing.received[2].firstFailureAt).toBe('2026-01-02T00:00:00.000Z');
      expect(decodeEnvelope(failing.received[2].body).id).toBe(sent.envelope.id);
      expect(real(healthy)).toHaveLength(1);
      expect(deadLetters).toHaveLength(0);
    });

    it('dead-letters a permanent failure at once, with the reason, and keeps consuming', async () => {
      const s = service();
      const t = await connect(s);
      let calls = 0;
      const r = recorder((m) => {
        calls++;
        const body = typeof m.body === 'string' ? m.body : m.body.toString('utf8');
        return body.includes('"poison":true')
          ? {
              status: 'dead-letter',
              error: {
                name: 'InvalidMessageError',
                message: 'orderId must be a string',
                stack: 'InvalidMessageError: …',
              },
              attempts: m.attempt,
              firstFailureAt: '2026-01-03T00:00:00.000Z',
              lastFailureAt: '2026-01-03T00:00:01.000Z',
              envelope: decodeEnvelope(m.body),
            }
          : ACK;
      });
      await t.subscribe(descriptor('strict', ['Checked']), r.handler);
      const poison = message(s, 'Checked', { poison: true });
      await t.publish(poison);
      await t.publish(message(s, 'Checked', { poison: false }));
      await waitFor(() => calls === 2 && deadLetters.length === 1, 'dead letter and next message', within());
      const [dl] = await t.deadLetters.list();
      expect(dl).toMatchObject({
        messageId: poison.envelope.id,
        type: 'Checked',
        subscriber: 'strict',
        attempts: 1,
        firstFailureAt: '2026-01-03T00:00:00.000Z',
        lastFailureAt: '2026-01-03T00:00:01.000Z',
        error: { name: 'InvalidMessageError', message: 'orderId must be a string' },
      });
      expect(dl.body).toBe(poison.body);
      expect(dl.sourceQueue).toContain('strict');
      expect(deadLetters[0].messageId).toBe(poison.envelope.id);
      expect(await t.deadLetters.count()).toBe(1);
    });

    it('exhausts retries into the dead-letter store; replay reaches the failed subscriber only; purge empties', async () => {
      const s = service();
      const t = await connect(s);
      let healed = false;
      const failing = recorder((m) => {
        if (healed) return ACK;
        if (m.attempt < 2) {
          return {
            status: 'retry',
            delayMs: 50,
            nextAttempt: m.attempt + 1,
            error: { name: 'Error', message: 'down' },
            firstFailureAt: m.firstFailureAt ?? new Date().toISOString(),
          };
        }
        return {
          status: 'dead-letter',
          error: { name: 'Error', message: 'down' },
          attempts: m.attempt,
          firstFailureAt: m.firstFailureAt!,
          lastFailureAt: new Date().toISOString(),
        };
      });
      const healthy = recorder();
      await t.subscribe(descriptor('failing', ['Exhausted']), failing.handler);
      await t.subscribe(descriptor('healthy', ['Exhausted']), healthy.handler);
      await t.publish(message(s, 'Exhausted', { k: 1 }));
      await t.publish(message(s, 'Exhausted', { k: 2 }));
      await waitFor(() => deadLetters.length === 2, 'two dead letters', within());
      const listed = await t.deadLetters.list({ subscriber: 'failing' });
      expect(listed).toHaveLength(2);
      expect(listed.every((d) => d.attempts === 2)).toBe(true);
      expect(await t.deadLetters.list({ subscriber: 'healthy' })).toHaveLength(0);

      healed = true;
      const before = failing.received.length;
      expect(await t.deadLetters.replay({ ids: [listed[0].id] })).toBe(1);
      await waitFor(() => failing.received.length === before + 1, 'replayed delivery', within());
      expect(failing.received[failing.received.length - 1].attempt).toBe(1);
      expect(healthy.received).toHaveLength(2);
      expect(await t.deadLetters.count()).toBe(1);
      expect(await t.deadLetters.purge()).toBe(1);
      expect(await t.deadLetters.count()).toBe(0);
    });

    it('honours per-subscriber concurrency', async () => {
      const s = service();
      const t = await connect(s);
      let active = 0;
      let peak = 0;
      let done = 0;
      const handler: DeliveryHandler = async () => {
        peak = Math.max(peak, ++active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
        done++;
        return ACK;
      };
      await t.subscribe(descriptor('serial', ['Work'], 1), handler);
      for (let i = 0; i < 5; i++) await t.publish(message(s, 'Work', { i }));
      await waitFor(() => done === 5, 'serial work', within());
      expect(peak).toBe(1);
    });

    it('drains in-flight handlers on close and takes no new message after', async () => {
      const s = service();
      const t = await connect(s);
      let finished = 0;
      let started = 0;
      await t.subscribe(descriptor('slow', ['Slow'], 2), async () => {
        started++;
        await new Promise((r) => setTimeout(r, 300));
        finished++;
        return ACK;
      });
      for (let i = 0; i < 2; i++) await t.publish(message(s, 'Slow', { i }));
      await waitFor(() => started === 2, 'two handlers started', within());
      await t.close(5000);
      expect(finished).toBe(2);
      expect(t.isConnected()).toBe(false);
    });

    it('reports queue depth and consumers', async () => {
      const s = service();
      const t = await connect(s);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      await t.subscribe(descriptor('gated', ['Gated'], 1), async () => {
        await gate;
        return ACK;
      });
      for (let i = 0; i < 4; i++) await t.publish(message(s, 'Gated', { i }));
      let stats = await t.stats();
      const deadline = Date.now() + within();
      while ((stats.find((q) => q.subscriber === 'gated')?.depth ?? 0) < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        stats = await t.stats();
      }
      const gated = stats.find((q) => q.subscriber === 'gated')!;
      expect(gated.depth).toBe(3);
      expect(gated.consumers).toBe(1);
      expect(stats.find((q) => q.subscriber === 'dead-letter')).toBeDefined();
      release();
    });

    it('gives another service its own copy of each event', async () => {
      const s1 = service();
      const s2 = service();
      const t1 = await connect(s1);
      const t2 = await connect(s2);
      const a = recorder();
      const b = recorder();
      await t1.subscribe(descriptor('listener', ['Shared']), a.handler);
      await t2.subscribe(descriptor('listener', ['Shared']), b.handler);
      for (let i = 0; i < 5; i++) await t1.publish(message(s1, 'Shared', { i }));
      // a sentinel behind the others: once each service has it, nothing earlier is still on its way
      await t1.publish(message(s1, 'Shared', { i: 'sentinel' }));
      const values = (r: typeof a) => r.received.map((m) => (decodeEnvelope(m.body).data as { i: unknown }).i);
      await waitFor(
        () => values(a).includes('sentinel') && values(b).includes('sentinel'),
        'both services to get the sentinel',
        within(),
      );
      expect(values(a)).toEqual([0, 1, 2, 3, 4, 'sentinel']);
      expect(values(b)).toEqual([0, 1, 2, 3, 4, 'sentinel']);
    });

    it('shares a subscriber queue between instances of one service (competing consumers)', async () => {
      if (!harness.features.competingConsumers) return; // feature flag, as in Watermill's universal suite
      const s = service();
      const t1 = await connect(s);
      const t2 = await connect(s);
      const a = recorder(async () => {
        await new Promise((r) => setTimeout(r, 5));
        return ACK;
      });
      const b = recorder(async () => {
        await new Promise((r) => setTimeout(r, 5));
        return ACK;
      });
      await t1.subscribe(descriptor('worker', ['Job'], 2), a.handler);
      await t2.subscribe(descriptor('worker', ['Job'], 2), b.handler);
      const sent = 40;
      for (let i = 0; i < sent; i++) await t1.publish(message(s, 'Job', { i }));
      await waitFor(() => a.received.length + b.received.length === sent, 'all jobs', within());
      await barrier(t1, s, 'Job', [a, b], { some: true });
      // what is guaranteed: every job once, none twice (how they are shared out is left to chance)
      const ids = [...real(a), ...real(b)].map((m) => decodeEnvelope(m.body).id);
      expect(ids).toHaveLength(sent);
      expect(new Set(ids).size).toBe(sent);
    });
  });
}
