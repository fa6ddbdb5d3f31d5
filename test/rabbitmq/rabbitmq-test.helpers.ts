import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes, randomUUID } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { connect, type ChannelModel } from 'amqplib';
import type { DeadLetter } from '../../lib/dead-letter/dead-letter.interface';
import { encodeEnvelope } from '../../lib/message/cloudevents.codec';
import type { MessageEnvelope } from '../../lib/message/envelope';
import type {
  DeliveryOutcome,
  InboundMessage,
  OutboundMessage,
  TransportContext,
} from '../../lib/transport/transport.interface';
import { RabbitMqTransport } from '../../lib/transport/rabbitmq/rabbitmq.transport';
import type { RabbitMqTransportOptions } from '../../lib/transport/rabbitmq/rabbitmq-options.interface';
import { TEST_AMQP_URL } from '../setup/services';

export { TEST_AMQP_URL };

/** A short unique name for this run's exchanges and queues. */
export function runId(): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A logger that keeps every line (to assert that no secret leaks) and prints nothing. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...args: unknown[]): void {
    this.lines.push(args.map(String).join(' '));
  }
  error(...args: unknown[]): void {
    this.lines.push(args.map(String).join(' '));
  }
  warn(...args: unknown[]): void {
    this.lines.push(args.map(String).join(' '));
  }
  debug(...args: unknown[]): void {
    this.lines.push(args.map(String).join(' '));
  }
  verbose(...args: unknown[]): void {
    this.lines.push(args.map(String).join(' '));
  }
}

/** An envelope + encoded body, as the core hands it to the transport. */
export function makeMessage(type: string, data: unknown, extra: Partial<OutboundMessage> = {}): OutboundMessage {
  const envelope: MessageEnvelope = {
    id: randomUUID(),
    type,
    version: 1,
    time: new Date().toISOString(),
    source: 'tests',
    correlationId: randomUUID(),
    headers: {},
    data,
  };
  return { envelope, body: encodeEnvelope(envelope), ...extra };
}

/** Test context recording dead letters. */
export function makeContext(serviceName: string): TransportContext & { deadLetters: DeadLetter[] } {
  const deadLetters: DeadLetter[] = [];
  return { serviceName, deadLetters, onDeadLetter: (dl) => deadLetters.push(dl) };
}

/** A transport on this run's exchange. */
export function makeTransport(run: string, overrides: Partial<RabbitMqTransportOptions> = {}): RabbitMqTransport {
  return new RabbitMqTransport({
    url: TEST_AMQP_URL,
    exchange: `${run}.events`,
    reconnectDelayMs: 200,
    connectTimeoutMs: 5_000,
    publishConfirmTimeoutMs: 10_000,
    logger: new CapturingLogger(),
    ...overrides,
  });
}

/** Records deliveries and answers with `decide` (default: ack). */
export class Recorder {
  readonly received: InboundMessage[] = [];
  constructor(
    public decide: (m: InboundMessage) => DeliveryOutcome | Promise<DeliveryOutcome> = () => ({ status: 'ack' }),
  ) {}
  readonly handler = async (m: InboundMessage): Promise<DeliveryOutcome> => {
    this.received.push(m);
    return this.decide(m);
  };
  ids(): string[] {
    return this.received.map((m) => (JSON.parse(m.body.toString()) as { id: string }).id);
  }
}

export { waitFor } from '../setup/wait';

/** Raw amqplib connection for checks and cleanup. */
export async function rawConnection(): Promise<ChannelModel> {
  const conn = await connect(TEST_AMQP_URL);
  conn.on('error', () => undefined);
  return conn;
}

/** Queue names matching, via rabbitmqctl when available (root), else []. */
function listQueues(match: (name: string) => boolean): string[] {
  try {
    const out = execFileSync('rabbitmqctl', ['list_queues', '-q', '--no-table-headers', 'name'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter(match);
  } catch {
    return [];
  }
}

/**
 * Deletes the given queues and exchanges plus any queue `match` accepts (found with rabbitmqctl
 * when available, which catches on-demand delay levels), never a name `match` rejects.
 */
export async function cleanup(
  match: string | ((name: string) => boolean),
  queues: string[],
  exchanges: string[],
): Promise<void> {
  const accept = typeof match === 'string' ? (name: string) => name.includes(match) : match;
  const conn = await rawConnection();
  try {
    const withLocks = queues.flatMap((q) => (q.endsWith('.dead-letter') ? [q, `${q}.lock`] : [q]));
    for (const name of new Set([...withLocks, ...listQueues(accept)])) {
      if (!accept(name)) continue;
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.deleteQueue(name).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    for (const name of exchanges) {
      if (!accept(name)) continue;
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.deleteExchange(name).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Parses the body's CloudEvents id. */
export function bodyId(m: InboundMessage): string {
  return (JSON.parse(m.body.toString()) as { id: string }).id;
}

/** A retry outcome for `m`. */
export function retry(m: InboundMessage, delayMs: number): DeliveryOutcome {
  return {
    status: 'retry',
    delayMs,
    nextAttempt: m.attempt + 1,
    error: { name: 'TransientError', message: `attempt ${m.attempt} failed`, stack: 'TransientError: x\n    at here' },
    firstFailureAt: m.firstFailureAt ?? new Date().toISOString(),
  };
}

/** A dead-letter outcome for `m`. */
export function deadLetter(m: InboundMessage, name = 'BoomError', message = 'boom'): DeliveryOutcome {
  return {
    status: 'dead-letter',
    error: { name, message, stack: `${name}: ${message}\n    at handler (x.ts:1:1)\n    at next (y.ts:2:2)` },
    attempts: m.attempt,
    firstFailureAt: m.firstFailureAt ?? new Date().toISOString(),
    lastFailureAt: new Date().toISOString(),
  };
}

/**
 * Force-closes broker connections with rabbitmqctl: those whose client properties contain `match`
 * (the test's run id, so other users of a shared broker are not cut), or every connection when
 * `all` is set (`close_all_connections`, what CI does since it has the broker to itself).
 * Returns how many were closed (-1 for all).
 */
export async function closeConnections(match: string, reason: string, all = false): Promise<number> {
  const exec = promisify(execFile);
  if (all) {
    await exec('rabbitmqctl', ['close_all_connections', reason]);
    return -1;
  }
  const { stdout } = await exec('rabbitmqctl', [
    'list_connections',
    '-q',
    '--no-table-headers',
    'pid',
    'client_properties',
  ]);
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(match))
    .map((line) => line.split('\t')[0]);
  await Promise.all(pids.map((pid) => exec('rabbitmqctl', ['close_connection', pid, reason])));
  return pids.length;
}
