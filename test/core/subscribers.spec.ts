import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { IsPositive, IsString } from 'class-validator';
import {
  DeadLetterService,
  EventBus,
  Message,
  MessageContext,
  PermanentMessageError,
  SubscriberStats,
  Subscribe,
  MESSAGING_TRANSPORT,
  encodeEnvelope,
  type DeadLetter,
  type MessageTransport,
} from '../../lib';
import { startApp, waitFor } from './app.helper';

@Message('PaymentTaken', {
  version: 2,
  upcasters: { 1: (v1: { amount: number }) => ({ amountCents: v1.amount * 100, currency: 'EUR' }) },
})
class PaymentTaken {
  @IsString() currency!: string;
  @IsPositive() amountCents!: number;
}

const calls: Record<string, number[]> = {};
const received: Record<string, unknown[]> = {};
function record(name: string, attempt: number | undefined, payload?: unknown) {
  (calls[name] ??= []).push(attempt ?? -1);
  (received[name] ??= []).push(payload);
}

@Injectable()
class Subscribers {
  constructor(private readonly ctx: MessageContext) {}

  @Subscribe('Flaky', { retry: { maxRetries: 3, initialDelayMs: 20, multiplier: 2, jitter: 0 } })
  flaky() {
    record('flaky', this.ctx.attempt);
    if (this.ctx.attempt! < 3) throw new Error('temporarily down');
  }

  @Subscribe('Flaky')
  steady() {
    record('steady', this.ctx.attempt);
  }

  @Subscribe('Doomed', { retry: { maxRetries: 2, initialDelayMs: 10, jitter: 0 } })
  doomed() {
    record('doomed', this.ctx.attempt);
    throw new TypeError('always broken');
  }

  @Subscribe('Refused')
  refused() {
    record('refused', this.ctx.attempt);
    throw new PermanentMessageError('order cannot exist');
  }

  @Subscribe(PaymentTaken, { name: 'payments' })
  payment(event: PaymentTaken) {
    record('payments', this.ctx.attempt, event);
  }

  @Subscribe('Slow', { timeoutMs: 50, retry: { maxRetries: 1, initialDelayMs: 10, jitter: 0 } })
  async slow() {
    record('slow', this.ctx.attempt);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('subscriber pipeline on the in-memory transport', () => {
  const alerts: DeadLetter[] = [];
  beforeEach(() => {
    for (const k of Object.keys(calls)) delete calls[k];
    for (const k of Object.keys(received)) delete received[k];
    alerts.length = 0;
  });

  async function app() {
    return startApp([Subscribers], { onDeadLetter: (dl) => void alerts.push(dl) });
  }

  it('retries a failing subscriber with backoff until it succeeds, without touching the others', async () => {
    const a = await app();
    const started = Date.now();
    await a.get(EventBus).publish({ type: 'Flaky' });
    await waitFor(() => calls.flaky?.length === 3, 'three attempts');
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 40 - 5);
    expect(calls.flaky).toEqual([1, 2, 3]);
    expect(calls.steady).toEqual([1]);
    expect(alerts).toHaveLength(0);
    const stats = a
      .get(SubscriberStats)
      .snapshot()
      .find((s) => s.subscriber === 'Subscribers.flaky')!;
    expect(stats).toMatchObject({ handled: 1, retried: 2, deadLettered: 0 });
    await a.close();
  });

  it('dead-letters after the last retry with the error, and calls the alert hook', async () => {
    const a = await app();
    await a.get(EventBus).publish({ type: 'Doomed', orderId: 'd-1' });
    await waitFor(() => alerts.length === 1, 'alert');
    expect(calls.doomed).toEqual([1, 2, 3]);
    const [dl] = await a.get(DeadLetterService).list();
    expect(dl).toMatchObject({
      subscriber: 'Subscribers.doomed',
      attempts: 3,
      type: 'Doomed',
      error: { name: 'TypeError', message: 'always broken' },
    });
    expect(dl.error.stack).toContain('TypeError: always broken');
    expect(Date.parse(dl.lastFailureAt)).toBeGreaterThanOrEqual(Date.parse(dl.firstFailureAt));
    expect(alerts[0].id).toBe(dl.id);
    await a.close();
  });

  it('dead-letters a PermanentMessageError at once', async () => {
    const a = await app();
    await a.get(EventBus).publish({ type: 'Refused' });
    await waitFor(() => alerts.length === 1, 'alert');
    expect(calls.refused).toEqual([1]);
    expect(alerts[0].error.name).toBe('PermanentMessageError');
    await a.close();
  });

  it('upcasts an old version to the version the subscriber understands', async () => {
    const a = await app();
    const transport = a.get<MessageTransport>(MESSAGING_TRANSPORT);
    const envelope = {
      id: 'v1-msg',
      type: 'PaymentTaken',
      version: 1,
      time: new Date().toISOString(),
      source: 'legacy',
      correlationId: 'c',
      headers: {},
      data: { amount: 12 },
    };
    await transport.publish({ envelope, body: encodeEnvelope(envelope) });
    await waitFor(() => received.payments?.length === 1, 'payment');
    expect(received.payments[0]).toBeInstanceOf(PaymentTaken);
    expect(received.payments[0]).toEqual(Object.assign(new PaymentTaken(), { amountCents: 1200, currency: 'EUR' }));
    await a.close();
  });

  it('dead-letters, without retrying, a newer unknown version and an invalid payload', async () => {
    const a = await app();
    const transport = a.get<MessageTransport>(MESSAGING_TRANSPORT);
    const base = {
      type: 'PaymentTaken',
      time: new Date().toISOString(),
      source: 'other',
      correlationId: 'c',
      headers: {},
    };
    const v3 = { ...base, id: 'v3', version: 3, data: { amountCents: 1, currency: 'EUR' } };
    const invalid = { ...base, id: 'bad', version: 2, data: { amountCents: -5, currency: 7 } };
    await transport.publish({ envelope: v3, body: encodeEnvelope(v3) });
    await transport.publish({ envelope: invalid, body: encodeEnvelope(invalid) });
    await waitFor(() => alerts.length === 2, 'two dead letters');
    const byId = Object.fromEntries(alerts.map((d) => [d.messageId, d]));
    expect(byId.v3.error.name).toBe('UnknownMessageVersionError');
    expect(byId.v3.attempts).toBe(1);
    expect(byId.bad.error.name).toBe('InvalidMessageError');
    expect(byId.bad.error.message).toMatch(/amountCents/);
    expect(received.payments ?? []).toHaveLength(0);
    await a.close();
  });

  it('dead-letters an undecodable body with the reason and keeps consuming', async () => {
    const a = await app();
    const transport = a.get<MessageTransport>(MESSAGING_TRANSPORT);
    const ok = {
      id: 'ok',
      type: 'PaymentTaken',
      version: 2,
      time: new Date().toISOString(),
      source: 's',
      correlationId: 'c',
      headers: {},
      data: { amountCents: 5, currency: 'EUR' },
    };
    await transport.publish({
      envelope: ok,
      body: '{"specversion":"1.0","id":"x","type":"PaymentTaken","source":"s","data":{"__proto__":{"polluted":true}}}',
    });
    await transport.publish({ envelope: ok, body: 'not json' });
    await transport.publish({ envelope: ok, body: encodeEnvelope(ok) });
    await waitFor(() => alerts.length === 2 && received.payments?.length === 1, 'dead letters and the good one');
    expect(alerts.map((d) => d.error.name)).toEqual(['MalformedMessageError', 'MalformedMessageError']);
    expect(alerts.map((d) => d.error.message).join(' ')).toMatch(/__proto__.*not JSON/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await a.close();
  });

  it('counts a handler timeout as a transient failure', async () => {
    const a = await app();
    await a.get(EventBus).publish({ type: 'Slow' });
    await waitFor(() => alerts.length === 1, 'dead letter after timeout retries');
    expect(calls.slow).toEqual([1, 2]);
    expect(alerts[0].error.name).toBe('HandlerTimeoutError');
    await a.close();
  });

  it('replays a dead letter to the failed subscriber only, and purges', async () => {
    const a = await app();
    await a.get(EventBus).publish({ type: 'Doomed' });
    await a.get(EventBus).publish({ type: 'Refused' });
    await waitFor(() => alerts.length === 2, 'two dead letters');
    const dls = a.get(DeadLetterService);
    expect(await dls.count()).toBe(2);
    expect(await dls.replay({ subscriber: 'Subscribers.refused' })).toBe(1);
    await waitFor(() => calls.refused?.length === 2, 'replayed');
    expect(calls.refused).toEqual([1, 1]);
    expect(calls.doomed).toEqual([1, 2, 3]);
    await waitFor(() => alerts.length === 3, 'dead-lettered again');
    expect(await dls.purge({ errorName: 'PermanentMessageError' })).toBe(1);
    expect((await dls.list()).map((d) => d.subscriber)).toEqual(['Subscribers.doomed']);
    await a.close();
  });
});
