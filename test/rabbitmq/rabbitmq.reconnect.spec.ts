import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RabbitMqTransport } from '../../lib/transport/rabbitmq/rabbitmq.transport';
import {
  Recorder,
  closeConnections,
  bodyId,
  cleanup,
  makeContext,
  makeMessage,
  makeTransport,
  retry,
  runId,
  waitFor,
} from './rabbitmq-test.helpers';

const exec = promisify(execFile);
const run = runId();
const TOTAL = Number(process.env.RABBITMQ_KILL_TEST_MESSAGES ?? 3_000);

/**
 * Force-closes this test's connections (`rabbitmqctl close_connection` on the connections whose
 * client-provided name contains the run id), or every connection on the broker with
 * RABBITMQ_KILL_ALL=1 (`rabbitmqctl close_all_connections`, which also hits other users of the broker).
 */
function killConnections(): Promise<number> {
  return closeConnections(run, 'connection-kill test', process.env.RABBITMQ_KILL_ALL === '1');
}

describe('RabbitMQ transport under connection loss', () => {
  let transport: RabbitMqTransport;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    await exec('rabbitmqctl', ['--version']).catch((err) => {
      throw new Error(`this test needs rabbitmqctl (run as root on the broker host): ${(err as Error).message}`);
    });
    process.on('unhandledRejection', onUnhandled);
  });

  afterAll(async () => {
    process.removeListener('unhandledRejection', onUnhandled);
    await transport?.close(2_000).catch(() => undefined);
    await cleanup(run, [`${run}.kill.sink`, `${run}.kill.dead-letter`], [`${run}.events`, `${run}.kill.retry`]);
  });

  it(`delivers all of ${TOTAL} events while the connections are killed twice mid-stream (no loss, no unhandled rejection)`, async () => {
    transport = makeTransport(run, {
      queuePrefix: `${run}.kill`,
      connectionName: `${run}-kill`,
      reconnectDelayMs: 200,
      publishConfirmTimeoutMs: 30_000,
    });
    await transport.connect(makeContext('kill'));
    const deliveries = new Map<string, number>();
    const acked = new Set<string>();
    // every 16th event (id ending in 0) fails once and goes through a delay queue, so retries are in flight during the kills
    const sink = new Recorder((m) => {
      const id = bodyId(m);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      if (m.attempt === 1 && id.endsWith('0')) return retry(m, 50);
      acked.add(id);
      return { status: 'ack' };
    });
    await transport.subscribe({ name: 'sink', types: ['Flow'], concurrency: 50, retryDelaysMs: [50] }, sink.handler);

    const sent = new Set<string>();
    let publishFailures = 0;
    const failureReasons = new Set<string>();
    let publishing = true;
    let killsDone = false;
    let published = 0;
    // ~600 events/s so that both kills (rabbitmqctl takes about a second each) land mid-stream; on a
    // loaded machine (rabbitmqctl then takes longer) it goes on past TOTAL until both kills are done
    const publishAll = async () => {
      const window = 50;
      for (let i = 0; i < TOTAL || !killsDone; i += window) {
        const size = i < TOTAL ? Math.min(window, TOTAL - i) : window;
        published = i + size;
        const batch = Array.from({ length: size }, (_, k) => makeMessage('Flow', { n: i + k }));
        await Promise.all([
          ...batch.map((m) =>
            transport.publish(m).then(
              () => sent.add(m.envelope.id),
              (err: Error) => {
                publishFailures++;
                failureReasons.add(`${err.name}: ${err.message}`);
              },
            ),
          ),
          new Promise((r) => setTimeout(r, 80)),
        ]);
      }
      publishing = false;
    };
    const killTwice = async () => {
      const killed: number[] = [];
      for (const pause of [300, 300]) {
        await new Promise((r) => setTimeout(r, pause));
        await waitFor(() => transport.isConnected(), 'reconnection before the next kill', 20_000);
        killed.push(await killConnections());
      }
      const midStream = publishing;
      killsDone = true;
      return { killed, midStream };
    };
    const [, { killed, midStream }] = await Promise.all([publishAll(), killTwice()]);
    expect(midStream).toBe(true);
    expect([publishFailures, [...failureReasons]]).toEqual([0, []]);
    expect(sent.size).toBe(published);
    expect(published).toBeGreaterThanOrEqual(TOTAL);
    await waitFor(() => [...sent].every((id) => acked.has(id)), `all ${published} events handled`, 60_000);

    const planned = [...sent].filter((id) => id.endsWith('0')).length;
    const extra = [...deliveries.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
    console.log(
      `connection-kill: ${published} sent, ${acked.size} handled, connections killed per round ${killed.join('+')}, ` +
        `${sink.received.length} deliveries = ${published} + ${planned} planned retries + ${extra - planned} duplicates from the kills`,
    );
    expect(killed.every((n) => n === -1 || n === 2)).toBe(true);
    expect(unhandled).toEqual([]);
    expect(transport.isConnected()).toBe(true);
    const stats = await transport.stats();
    expect(stats.find((s) => s.subscriber === 'sink')).toMatchObject({ consumers: 1 });
    expect(await transport.deadLetters.count()).toBe(0);
  }, 120_000);
});
