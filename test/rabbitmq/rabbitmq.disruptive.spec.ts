import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RabbitMqTransport } from '../../lib/transport/rabbitmq/rabbitmq.transport';
import {
  Recorder,
  bodyId,
  cleanup,
  makeContext,
  makeMessage,
  makeTransport,
  runId,
  waitFor,
} from './rabbitmq-test.helpers';

import { disruptiveTestsEnabled } from '../setup/disruptive';

const exec = promisify(execFile);
const run = runId();

/**
 * Broker-wide disruptions (restart, memory alarm): they hit every user of the broker, so they run in
 * CI (CI=true: the run has the broker to itself) or with RABBITMQ_DISRUPTIVE_TESTS=1, not on a
 * developer's shared broker by default (as root on the broker host, rabbitmqctl needed).
 */
const maybe = disruptiveTestsEnabled() ? describe : describe.skip;

maybe('RabbitMQ transport under broker-wide disruption', () => {
  const transports: RabbitMqTransport[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    await exec('rabbitmqctl', ['set_vm_memory_high_watermark', '0.4']).catch(() => undefined);
    for (const t of transports) await t.close(1_000).catch(() => undefined);
    await cleanup(run, [], [`${run}.events`, `${run}.restart.retry`, `${run}.alarm.retry`]);
  });

  it('resumes publishing and consuming after a broker restart; publishes made during the outage wait and succeed', async () => {
    const t = makeTransport(run, {
      queuePrefix: `${run}.restart`,
      publishConfirmTimeoutMs: 60_000,
      reconnectDelayMs: 300,
    });
    transports.push(t);
    await t.connect(makeContext('restart'));
    const sink = new Recorder();
    await t.subscribe({ name: 'sink', types: ['Restarted'], concurrency: 10, retryDelaysMs: [] }, sink.handler);
    const before = makeMessage('Restarted', { phase: 'before' });
    await t.publish(before);
    await waitFor(() => sink.received.length === 1, 'delivery before the restart');

    await exec('rabbitmqctl', ['stop_app']);
    await waitFor(() => !t.isConnected(), 'disconnection');
    const during = makeMessage('Restarted', { phase: 'during' });
    const pending = t.publish(during); // waits for the broker
    await new Promise((r) => setTimeout(r, 1_000));
    await exec('rabbitmqctl', ['start_app']);
    await pending;
    const after = makeMessage('Restarted', { phase: 'after' });
    await t.publish(after);
    await waitFor(() => sink.received.length >= 3, 'deliveries after the restart', 30_000);
    expect(new Set(sink.received.map(bodyId))).toEqual(new Set([before, during, after].map((m) => m.envelope.id)));
    expect(t.isConnected()).toBe(true);
    expect(unhandled).toEqual([]);
  }, 90_000);

  it('keeps consuming while a memory alarm blocks the publisher connection', async () => {
    const t = makeTransport(run, { queuePrefix: `${run}.alarm`, publishConfirmTimeoutMs: 2_000 });
    transports.push(t);
    await t.connect(makeContext('alarm'));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = new Recorder(async () => {
      await gate;
      return { status: 'ack' };
    });
    await t.subscribe({ name: 'drain', types: ['Alarmed'], concurrency: 1, retryDelaysMs: [] }, sink.handler);
    for (let i = 0; i < 200; i++) await t.publish(makeMessage('Alarmed', { i }));
    await waitFor(() => sink.received.length === 1, 'first delivery');

    await exec('rabbitmqctl', ['set_vm_memory_high_watermark', 'absolute', '1']);
    try {
      // the publisher connection gets blocked: a publish times out instead of being reported as done
      await expect(t.publish(makeMessage('Alarmed', { blocked: true }))).rejects.toThrow(/did not confirm/);
      release();
      // ...while the consumer connection keeps draining the queue
      await waitFor(() => sink.received.length === 200, 'queue drained during the alarm', 20_000);
    } finally {
      await exec('rabbitmqctl', ['set_vm_memory_high_watermark', '0.4']);
    }
    await waitFor(
      async () => {
        try {
          await t.publish(makeMessage('Alarmed', { after: true }));
          return true;
        } catch {
          return false;
        }
      },
      'publishing again after the alarm',
      30_000,
    );
    expect(unhandled).toEqual([]);
  }, 90_000);
});
