import { createHash } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from '../../dead-letter/dead-letter.interface';
import { DeadLetterReplayError } from './errors/dead-letter-replay.error';
import { DeadLetterStoreBusyError } from './errors/dead-letter-store-busy.error';
import { sleep, type RabbitMqConnection } from './rabbitmq.connection';
import { deadLetterFromMessage, replayProperties } from './rabbitmq.message';
import type { RabbitMqNaming } from './rabbitmq.naming';
import type { RabbitMqPublisher } from './rabbitmq.publisher';

const ACCESS_REFUSED = 403;
const IDLE_MS = 2_000;

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

function matches(record: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.subscriber === undefined || record.subscriber === filter.subscriber) &&
    (filter.ids === undefined || filter.ids.includes(record.id)) &&
    (filter.type === undefined || record.type === filter.type) &&
    (filter.errorName === undefined || record.error.name === filter.errorName)
  );
}

/**
 * Dead letters kept in the service's broker queue `<prefix>.dead-letter`.
 *
 * Reading a queue without consuming it is not an AMQP operation, so every `list`/`replay`/`purge`
 * takes a snapshot: on a fresh channel it reads the queue's message count N, consumes with an
 * **exclusive** consumer (which doubles as a lock: a concurrent operation — on this or another
 * instance — gets ACCESS_REFUSED and waits, up to `deadLetterLockTimeoutMs`) until it holds the N
 * oldest messages unacknowledged, acks the ones it purges or has replayed (after the replay's
 * publisher confirm), and closes the channel, which gives every other message back to the queue at
 * its original position (classic queues; quorum queues return them too). Dead letters arriving
 * meanwhile land behind the snapshot and are untouched. `count()` is the ready-message count, so it
 * does not include letters held by an operation in progress.
 */
export class RabbitMqDeadLetterStore implements DeadLetterStore {
  constructor(private readonly runtime: () => DeadLetterStoreRuntime) {}

  /** Dead letters, oldest first. */
  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.scan(async (scanned) => this.select(scanned, filter).map((s) => s.record));
  }

  /** Ready messages in the dead-letter queue. */
  async count(): Promise<number> {
    const { connection, naming } = this.runtime();
    const ch = await connection.openChannel('count dead letters');
    try {
      return (await ch.checkQueue(naming.deadLetterQueue)).messageCount;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /**
   * Republishes each selected dead letter, unchanged with attempt 1, to the one queue it failed in
   * (default exchange, `mandatory`), and removes it from the dead-letter queue only once the broker
   * confirmed the republish. Throws `DeadLetterReplayError` (with the count) when some failed.
   */
  async replay(filter: DeadLetterFilter = {}): Promise<number> {
    const { publisher, naming } = this.runtime();
    return this.scan(async (scanned, ch) => {
      const selected = this.select(scanned, filter);
      const failures: Array<{ id: string; reason: string }> = [];
      let replayed = 0;
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
            ch.ack(msg);
            replayed++;
          } catch (err) {
            failures.push({ id: record.id, reason: (err as Error).message });
          }
        }),
      );
      if (failures.length > 0) throw new DeadLetterReplayError(replayed, failures);
      return replayed;
    });
  }

  /** Deletes the selected dead letters. */
  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    return this.scan(async (scanned, ch) => {
      const selected = this.select(scanned, filter);
      for (const { msg } of selected) ch.ack(msg);
      return selected.length;
    });
  }

  private select(scanned: Scanned[], filter: DeadLetterFilter): Scanned[] {
    const selected = scanned.filter((s) => matches(s.record, filter));
    return filter.limit !== undefined ? selected.slice(0, Math.max(0, filter.limit)) : selected;
  }

  /** Runs `work` on a snapshot of the queue held by an exclusive consumer (see the class comment). */
  private async scan<T>(work: (scanned: Scanned[], ch: Channel) => Promise<T>): Promise<T> {
    const { connection, naming, lockTimeoutMs } = this.runtime();
    const queue = naming.deadLetterQueue;
    const started = Date.now();
    for (;;) {
      const ch = await connection.openChannel('dead letters');
      try {
        const { messageCount } = await ch.checkQueue(queue);
        if (messageCount === 0) return await work([], ch);
        await ch.prefetch(messageCount <= 65_535 ? messageCount : 0);
        const messages = await this.take(ch, queue, messageCount);
        const scanned = messages.map((msg) => ({
          msg,
          record: deadLetterFromMessage(msg, () => fallbackId(msg)),
        }));
        return await work(scanned, ch);
      } catch (err) {
        if ((err as { code?: number }).code !== ACCESS_REFUSED) throw err;
        if (Date.now() - started >= lockTimeoutMs) throw new DeadLetterStoreBusyError(queue, Date.now() - started);
        await sleep(50 + Math.random() * 150);
      } finally {
        await ch.close().catch(() => undefined);
      }
    }
  }

  /** Consumes exclusively until `count` messages are held (or nothing came for a while). */
  private async take(ch: Channel, queue: string, count: number): Promise<ConsumeMessage[]> {
    const messages: ConsumeMessage[] = [];
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    let idle = setTimeout(finish, IDLE_MS);
    try {
      const { consumerTag } = await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return finish();
          if (messages.length < count) messages.push(msg); // later arrivals stay unacked: back to the queue on close
          clearTimeout(idle);
          if (messages.length >= count) finish();
          else idle = setTimeout(finish, IDLE_MS);
        },
        { exclusive: true, noAck: false },
      );
      await done;
      await ch.cancel(consumerTag);
      return messages;
    } finally {
      clearTimeout(idle);
    }
  }
}

/** A stable id for a message written without our headers. */
function fallbackId(msg: ConsumeMessage): string {
  return createHash('sha256').update(msg.content).digest('hex').slice(0, 32);
}
