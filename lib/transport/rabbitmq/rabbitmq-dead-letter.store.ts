import { matchesDeadLetter } from '../../dead-letter/dead-letter-filter';
import { createHash } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from '../../dead-letter/dead-letter.interface';
import { DeadLetterReplayError } from './errors/dead-letter-replay.error';
import { DeadLetterStoreBusyError } from './errors/dead-letter-store-busy.error';
import { closeChannel, sleep } from './amqp-settle.util';
import type { RabbitMqConnection } from './rabbitmq.connection';
import { deadLetterFromMessage, replayProperties } from './rabbitmq.message';
import type { RabbitMqNaming } from './rabbitmq.naming';
import type { RabbitMqPublisher } from './rabbitmq.publisher';

const ACCESS_REFUSED = 403;
const IDLE_MS = 2_000;
const GIVE_BACK_MS = 2_000;
/** Most dead letters one snapshot holds in memory (unacknowledged, with their bodies). */
export const DEAD_LETTER_PAGE_SIZE = 10_000;

/** Snapshot size: just `limit` when nothing else filters, else a page. */
function pageSize(filter: DeadLetterFilter): number {
  const onlyLimit =
    filter.subscriber === undefined &&
    filter.ids === undefined &&
    filter.type === undefined &&
    filter.errorName === undefined;
  if (onlyLimit && filter.limit !== undefined) return Math.max(0, Math.min(DEAD_LETTER_PAGE_SIZE, filter.limit));
  return DEAD_LETTER_PAGE_SIZE;
}

/** How many more `limit` allows after `done`. */
function remaining(filter: DeadLetterFilter, done: number): number {
  return filter.limit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, filter.limit - done);
}

/** What the store needs; resolved at call time because the transport connects after construction. */
export interface DeadLetterStoreRuntime {
  connection: RabbitMqConnection;
  publisher: RabbitMqPublisher;
  naming: RabbitMqNaming;
  lockTimeoutMs: number;
  logger: LoggerService;
}

interface Scanned {
  msg: ConsumeMessage;
  record: DeadLetter;
}

/**
 * Dead letters kept in the service's broker queue `<prefix>.dead-letter`.
 *
 * Reading a queue without consuming it is not an AMQP operation, so every `list`/`replay`/`purge`
 * works on a snapshot, on a fresh channel:
 * 1. it takes the mutex: an exclusive consumer on the always-empty `<prefix>.dead-letter.lock`
 *    queue (a concurrent operation — on this or another instance — gets ACCESS_REFUSED and retries
 *    until `deadLetterLockTimeoutMs`); it is released when the channel closes, also on a crash;
 * 2. it reads the ready count N and consumes the dead-letter queue (exclusively: a foreign consumer
 *    would make the snapshot partial, so that is reported as busy too) until it holds the N oldest
 *    messages unacknowledged — dead letters arriving meanwhile land behind them and are untouched;
 * 3. it acks the ones it purges, or has replayed once the broker confirmed the republish;
 * 4. it gives every other message back (`nack` with requeue: classic queues put them back at their
 *    original position, so the order stays oldest first) and waits until the queue shows them as
 *    ready again (quorum queues take them back asynchronously), then releases the mutex.
 * `replay`/`purge` then take the next page (the processed letters are gone, so it starts further on)
 * until nothing more is selected or `limit` is reached. Consequence of the page bound: with a filter
 * (subscriber, type, error, ids), `list` only sees the matches among the oldest 10,000 dead letters,
 * and `replay`/`purge` stop once the oldest 10,000 hold no match — call them again after purging
 * or replaying what precedes, or use a narrower filter.
 * `count()` is the ready-message count: it does not include letters held by an operation in progress.
 */
export class RabbitMqDeadLetterStore implements DeadLetterStore {
  constructor(private readonly runtime: () => DeadLetterStoreRuntime) {}

  /** Dead letters, oldest first: matches among the oldest {@link DEAD_LETTER_PAGE_SIZE} (see the class comment). */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    let found: DeadLetter[] = [];
    await this.scan(pageSize(filter), async (page) => {
      found = this.select(page, filter, filter.limit).map((s) => s.record);
      return false;
    });
    return found;
  }

  /** Ready messages in the dead-letter queue. */
  async count(): Promise<number> {
    const { connection, naming } = this.runtime();
    const ch = await connection.openChannel('count dead letters');
    try {
      return (await ch.checkQueue(naming.deadLetterQueue)).messageCount;
    } finally {
      await closeChannel(ch);
    }
  }

  /**
   * Republishes each selected dead letter, unchanged with attempt 1, to the one queue it failed in
   * (default exchange, `mandatory`), and removes it from the dead-letter queue only once the broker
   * confirmed the republish. Works page by page. Throws `DeadLetterReplayError` (with the count) when some failed.
   */
  async replay(filter: DeadLetterFilter = {}): Promise<number> {
    const { publisher, naming } = this.runtime();
    const failures: Array<{ id: string; reason: string }> = [];
    let replayed = 0;
    await this.scan(pageSize(filter), async (page, ack) => {
      const selected = this.select(page, filter, remaining(filter, replayed));
      await Promise.all(
        selected.map(async ({ msg, record }) => {
          try {
            const queue = record.sourceQueue || naming.subscriberQueue(record.subscriber);
            await publisher.publish({
              exchange: '',
              routingKey: queue,
              content: msg.content,
              properties: replayProperties(msg),
              targeted: true,
            });
            ack(msg);
            replayed++;
          } catch (err) {
            failures.push({ id: record.id, reason: (err as Error).message });
          }
        }),
      );
      return failures.length === 0 && selected.length > 0 && remaining(filter, replayed) > 0;
    });
    if (failures.length > 0) throw new DeadLetterReplayError(replayed, failures);
    return replayed;
  }

  /** Deletes the selected dead letters, page by page. */
  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    let purged = 0;
    await this.scan(pageSize(filter), async (page, ack) => {
      const selected = this.select(page, filter, remaining(filter, purged));
      for (const { msg } of selected) ack(msg);
      purged += selected.length;
      return selected.length > 0 && remaining(filter, purged) > 0;
    });
    return purged;
  }

  private select(scanned: Scanned[], filter: DeadLetterFilter, limit: number | undefined): Scanned[] {
    const selected = scanned.filter((s) => matchesDeadLetter(s.record, filter));
    return limit !== undefined ? selected.slice(0, Math.max(0, limit)) : selected;
  }

  /**
   * Runs `work` on snapshots of at most `size` messages held by an exclusive consumer (see the class
   * comment), one page after the other while `work` asks for another and the page was full; the
   * mutex is held throughout.
   */
  private async scan(
    size: number,
    work: (page: Scanned[], ack: (msg: ConsumeMessage) => void) => Promise<boolean>,
  ): Promise<void> {
    const { connection, naming, lockTimeoutMs } = this.runtime();
    const queue = naming.deadLetterQueue;
    const started = Date.now();
    for (;;) {
      const ch = await connection.openChannel('dead letters');
      let held = 0;
      const ack = (msg: ConsumeMessage): void => {
        ch.ack(msg);
        held--;
      };
      try {
        // the mutex, held until the channel closes, after the snapshot has been given back
        await ch.consume(naming.deadLetterLock, () => undefined, { exclusive: true, noAck: true });
        for (;;) {
          const { messageCount } = await ch.checkQueue(queue);
          const take = Math.min(messageCount, size);
          if (take === 0) {
            await work([], ack);
            return;
          }
          await ch.prefetch(take);
          const taken = await this.take(ch, queue, take);
          held = taken.delivered;
          const page = taken.messages.map((msg) => ({
            msg,
            record: deadLetterFromMessage(msg, () => fallbackId(msg)),
          }));
          const again = await work(page, ack);
          await this.giveBack(ch, queue, held);
          held = 0;
          if (!again || page.length < take || take < size) return;
        }
      } catch (err) {
        if ((err as { code?: number }).code !== ACCESS_REFUSED) throw err;
        if (Date.now() - started >= lockTimeoutMs) throw new DeadLetterStoreBusyError(queue, Date.now() - started);
        await sleep(50 + Math.random() * 150);
      } finally {
        await closeChannel(ch);
      }
    }
  }

  /**
   * Requeues what the snapshot held and waits (up to 2 s) until the queue shows it as ready again:
   * quorum queues take returned messages back asynchronously, and a `count()` or `purge()` right
   * after must not see an empty queue.
   */
  private async giveBack(ch: Channel, queue: string, held: number): Promise<void> {
    if (held <= 0) return;
    ch.nackAll(true);
    const deadline = Date.now() + GIVE_BACK_MS;
    while ((await ch.checkQueue(queue)).messageCount < held && Date.now() < deadline) await sleep(10);
  }

  /** Consumes exclusively until `count` messages are held (or nothing came for a while). */
  private async take(
    ch: Channel,
    queue: string,
    count: number,
  ): Promise<{ messages: ConsumeMessage[]; delivered: number }> {
    const messages: ConsumeMessage[] = [];
    let delivered = 0;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    let idle = setTimeout(finish, IDLE_MS);
    try {
      const { consumerTag } = await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return finish();
          delivered++;
          if (messages.length < count) messages.push(msg); // later arrivals are given back untouched
          clearTimeout(idle);
          if (messages.length >= count) finish();
          else idle = setTimeout(finish, IDLE_MS);
        },
        { exclusive: true, noAck: false },
      );
      await done;
      await ch.cancel(consumerTag);
      return { messages, delivered };
    } finally {
      clearTimeout(idle);
    }
  }
}

/** A stable id for a message written without our headers. */
function fallbackId(msg: ConsumeMessage): string {
  return createHash('sha256').update(msg.content).digest('hex').slice(0, 32);
}
