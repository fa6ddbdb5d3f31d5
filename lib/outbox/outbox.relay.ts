import type { LoggerService } from '@nestjs/common';
import { decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageTransport, OutboundMessage } from '../transport/transport.interface';
import type { ResolvedOutboxOptions } from './outbox-options.interface';
import { backoffDelayMs } from './outbox-options.validator';
import { errorText, type BatchResult, type ClaimedOutboxRow, type OutboxStore } from './outbox.store';
import { RelayRateMeter } from './relay-rate.meter';
import { UnroutableMessageError } from '../transport/rabbitmq/errors/unroutable-message.error';
import { describeEndpoint } from '../remote/remote-endpoints';

const MAX_ERROR_BACKOFF_MS = 5000;
const BUSY_RETRY_MS = 5;

/** Delivery headers stored with a row (retries). */
interface RowHeaders {
  attempt?: number;
  firstFailureAt?: string;
  /**
   * The queue prefix of the other service a routed command goes to (`OutboundMessage.endpoint`), as
   * `remote.endpoints` resolved it in the caller's transaction.
   */
  endpoint?: string;
  /** The endpoint as routed, when `remote.endpoints` mapped it to another prefix (`OutboundMessage.endpointName`). */
  endpointName?: string;
  /** Headers of the failed delivery a retry carries (`OutboundMessage.carriedHeaders`). */
  carried?: Record<string, unknown>;
}

/**
 * Rebuilds the `OutboundMessage` of a row (a routed command goes to the queue prefix stored with it);
 * throws when the stored body cannot be decoded.
 */
export function toOutboundMessage(row: ClaimedOutboxRow): OutboundMessage {
  const envelope = decodeEnvelope(row.payload);
  const message: OutboundMessage = { envelope, body: row.payload };
  if (row.destination !== null) message.destination = row.destination;
  let headers: RowHeaders = {};
  try {
    headers = JSON.parse(row.headers || '{}') as RowHeaders;
  } catch {
    headers = {};
  }
  if (typeof headers.attempt === 'number') message.attempt = headers.attempt;
  if (typeof headers.firstFailureAt === 'string') message.firstFailureAt = headers.firstFailureAt;
  if (typeof headers.endpoint === 'string') {
    message.endpoint = headers.endpoint;
    if (typeof headers.endpointName === 'string') message.endpointName = headers.endpointName;
  }
  const carried = headers.carried;
  if (carried !== null && typeof carried === 'object' && !Array.isArray(carried)) message.carriedHeaders = carried;
  return message;
}

/**
 * Publishes pending outbox rows through the transport: claims a batch, publishes it (rows of one
 * partition key one after another, in id order; other rows concurrently), marks confirmed rows
 * sent and failed ones pending with attempts+1, the error and a backoff (or `failed` after
 * `maxAttempts`), in the claim's transaction. Runs until `stop()`: after a full batch at once,
 * otherwise when woken (`wake()`: NOTIFY, local commit) or after `pollIntervalMs`. While the
 * transport is disconnected it does not claim (a broker outage does not use up attempts).
 */
export class OutboxRelay {
  /** Throughput counters. */
  readonly meter = new RelayRateMeter();
  private running?: Promise<void>;
  private stopping = false;
  /** Bumped by every `wake()`: a lane whose batch began before the last wake does not sleep. */
  private wakes = 0;
  private readonly sleepers = new Set<{ done: () => void; fixed: boolean }>();
  private dueTimer?: NodeJS.Timeout;
  private dueAt = Infinity;
  /** When the last batch (empty or not) finished, epoch ms. */
  lastRunAt?: number;

  constructor(
    private readonly store: OutboxStore,
    private readonly transport: MessageTransport,
    private readonly options: Pick<
      ResolvedOutboxOptions,
      'batchSize' | 'maxAttempts' | 'backoff' | 'pollIntervalMs' | 'relayConcurrency'
    >,
    private readonly logger: LoggerService,
  ) {}

  /** Whether the loop runs. */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /**
   * Batches in flight at once: `relayConcurrency`, or 1 when the store cannot share rows out between
   * concurrent claims (SQLite). Each lane is a claim transaction of its own, like another relay.
   */
  get lanes(): number {
    return this.store.supportsConcurrentRelays ? this.options.relayConcurrency : 1;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    // a lane that fails outside its batch (it should not) is logged; the others go on, and stop()
    // still waits for every lane
    const lane = () =>
      this.loop().catch((error: unknown) => this.logger.error(`outbox relay lane stopped: ${errorText(error)}`));
    this.running = Promise.all(Array.from({ length: this.lanes }, lane))
      .then(() => undefined)
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Finishes the in-flight batches and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    this.dueAt = Infinity;
    this.wake();
    await this.running;
  }

  /**
   * Asks for a batch now (rows were committed). Cheap; coalesces. Wakes one sleeping lane: a commit
   * is one claim's worth of rows (waking every lane had the others claim nothing, a statement each);
   * a lane that is busy claims again when its batch ends (it saw the wake), and the next commit
   * wakes the next sleeper.
   */
  wake(): void {
    this.wakes++;
    for (const sleeper of this.sleepers) {
      if (this.stopping) sleeper.done();
      else if (!sleeper.fixed) {
        sleeper.done();
        return;
      }
    }
  }

  /** Asks for a batch at `time` (epoch ms), e.g. when a delayed row falls due. */
  wakeAt(time: number): void {
    if (this.stopping || time >= this.dueAt) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueAt = time;
    this.dueTimer = setTimeout(
      () => {
        this.dueTimer = undefined;
        this.dueAt = Infinity;
        this.wake();
      },
      Math.max(0, time - Date.now()) + 5,
    );
    this.dueTimer.unref?.();
  }

  /** Runs one batch (for tests and tools): returns how many rows were claimed. */
  async runOnce(): Promise<number> {
    const outcome = await this.store.processBatch(this.options.batchSize, (rows) => this.publishRows(rows));
    return outcome === 'busy' ? 0 : outcome;
  }

  /** One lane: batch after batch while rows are due, else sleep until woken or the poll interval. */
  private async loop(): Promise<void> {
    let errorDelay = 0;
    while (!this.stopping) {
      const wakesBefore = this.wakes;
      if (!this.transport.isConnected()) {
        await this.sleep(this.options.pollIntervalMs, wakesBefore);
        continue;
      }
      let claimed: number | 'busy';
      try {
        claimed = await this.store.processBatch(this.options.batchSize, (rows) => this.publishRows(rows));
        if (claimed !== 'busy') this.lastRunAt = Date.now();
        errorDelay = 0;
      } catch (error) {
        errorDelay = Math.min(MAX_ERROR_BACKOFF_MS, Math.max(100, errorDelay * 2));
        this.logger.error(`outbox relay batch failed, retrying in ${errorDelay} ms: ${errorText(error)}`);
        await this.sleep(errorDelay, wakesBefore, true);
        continue;
      }
      if (claimed === 'busy') await this.sleep(BUSY_RETRY_MS, wakesBefore, true);
      else if (claimed < this.options.batchSize) await this.sleep(this.options.pollIntervalMs, wakesBefore);
    }
  }

  /**
   * Waits `ms`, or less when woken; returns at once when a wake came since `wakesBefore` (the
   * batch may have missed those rows). A `fixed` wait ends early only on stop.
   */
  private sleep(ms: number, wakesBefore: number, fixed = false): Promise<void> {
    if (this.stopping || (!fixed && this.wakes !== wakesBefore)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleeper = {
        fixed,
        done: () => {
          clearTimeout(timer);
          this.sleepers.delete(sleeper);
          resolve();
        },
      };
      const timer = setTimeout(sleeper.done, ms);
      this.sleepers.add(sleeper);
    });
  }

  /** Publishes a claimed batch; never rejects. */
  private async publishRows(rows: ClaimedOutboxRow[]): Promise<BatchResult> {
    const result: BatchResult = { sent: [], failed: [] };
    const chains = new Map<string, ClaimedOutboxRow[]>();
    const single: ClaimedOutboxRow[] = [];
    for (const row of rows) {
      if (row.partitionKey === null) single.push(row);
      else {
        const chain = chains.get(row.partitionKey);
        if (chain) chain.push(row);
        else chains.set(row.partitionKey, [row]);
      }
    }
    const tasks: Promise<unknown>[] = single.map((row) => this.publishRow(row, result));
    for (const chain of chains.values()) {
      tasks.push(
        (async () => {
          for (const row of chain) {
            // a failed row stops its partition for this batch: the rest stay pending, in order
            if (!(await this.publishRow(row, result))) return;
          }
        })(),
      );
    }
    await Promise.all(tasks);
    let gaveUp = 0;
    for (const f of result.failed) {
      if (f.giveUp) gaveUp++;
      else this.wakeAt(Date.now() + f.retryInMs);
    }
    this.meter.record(result.sent.length, result.failed.length, gaveUp);
    return result;
  }

  private async publishRow(row: ClaimedOutboxRow, result: BatchResult): Promise<boolean> {
    let message: OutboundMessage;
    try {
      message = toOutboundMessage(row);
    } catch (error) {
      this.logger.error(
        `outbox row ${row.id} (message ${row.messageId}) cannot be decoded, giving up: ${errorText(error)}`,
      );
      result.failed.push({
        id: row.id,
        attempts: row.attempts + 1,
        error: errorText(error),
        giveUp: true,
        retryInMs: 0,
      });
      return false;
    }
    try {
      // a non-durable transport (in-memory) confirms only once the subscribers settled the message
      await this.transport.publish(this.transport.capabilities.durable ? message : { ...message, awaitHandling: true });
      result.sent.push(row.id);
      return true;
    } catch (error) {
      const attempts = row.attempts + 1;
      // a command routed to a service whose queue does not exist yet (deployed after the sender,
      // or not yet subscribed) waits for it, however long: given up, it would be lost
      const endpoint = message.endpoint;
      const waiting = endpoint !== undefined && error instanceof UnroutableMessageError;
      const giveUp = !waiting && attempts >= this.options.maxAttempts;
      const retryInMs = giveUp ? 0 : backoffDelayMs(this.options.backoff, attempts);
      const what = `outbox row ${row.id} (message ${row.messageId}, type ${row.type})`;
      if (waiting)
        this.logger.warn?.(
          `${what} waits for service ${describeEndpoint(message.endpointName ?? endpoint, endpoint)}: its commands ` +
            `queue does not exist yet (attempt ${attempts}, again in ${retryInMs} ms)`,
        );
      else if (giveUp)
        this.logger.error(`${what} failed ${attempts} time(s), giving up (status failed): ${errorText(error)}`);
      else
        this.logger.warn?.(
          `${what} publish failed (attempt ${attempts}), retry in ${retryInMs} ms: ${errorText(error)}`,
        );
      result.failed.push({ id: row.id, attempts, error: errorText(error), giveUp, retryInMs });
      return false;
    }
  }
}
