import type { LoggerService } from '@nestjs/common';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { MAX_ENCODED_HEADERS_BYTES, encodedTableSize } from './amqp-table.util';
import { HeadersTooLargeError } from './errors/headers-too-large.error';
import { PublishTimeoutError } from './errors/publish-timeout.error';
import { TransportNotConnectedError } from './errors/transport-not-connected.error';
import { UnroutableMessageError } from './errors/unroutable-message.error';
import { ManagedChannel } from './managed.channel';
import type { RabbitMqConnection } from './rabbitmq.connection';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.interface';

/** One publish as the publisher sees it. */
export interface RawPublish {
  exchange: string;
  routingKey: string;
  content: Buffer;
  /** AMQP properties; `messageId` is used to match a returned message to its publish. */
  properties: Options.Publish;
  /**
   * Targeted publishes (retry, replay, dead letter) always reject when returned; events follow
   * the `unroutableEvents` option.
   */
  targeted: boolean;
  /** Overrides `publishConfirmTimeoutMs`. */
  timeoutMs?: number;
}

interface InFlight {
  ch: ConfirmChannel;
  messageId: unknown;
  exchange: string;
  routingKey: string;
  returned: boolean;
  deadline: number;
  timeoutMs: number;
  settle: (result: AttemptResult | Error) => void;
}

type AttemptResult = 'confirmed' | 'returned' | { retry: string };

const SWEEP_MS = 100;

/**
 * Publishes on one confirm channel of the publisher connection. A publish resolves only after the
 * broker's confirm; if the channel or connection drops before the confirm, it is published again
 * on the next channel until `publishConfirmTimeoutMs` has passed (at-least-once: a message whose
 * confirm was lost may be stored twice; consumers dedupe by id). `mandatory` is always set: a
 * returned message (RabbitMQ sends `basic.return` before the confirm) is matched to its publish by
 * message id and routing key.
 */
export class RabbitMqPublisher {
  /** Events returned by the broker because no queue was bound to their type (`unroutableEvents: 'warn'`). */
  returnedEvents = 0;
  private readonly inFlight = new Set<InFlight>();
  private sweeper?: NodeJS.Timeout;
  private readonly channel: ManagedChannel<ConfirmChannel>;
  private drained?: Promise<void>;

  constructor(
    connection: RabbitMqConnection,
    private readonly options: ResolvedRabbitMqOptions,
    private readonly logger: LoggerService,
  ) {
    this.channel = new ManagedChannel<ConfirmChannel>(
      connection,
      {
        name: 'publisher',
        confirm: true,
        reopenDelayMs: Math.min(options.reconnectDelayMs, 200),
        setup: async (ch) => {
          ch.on('return', (msg: Message) => this.onReturn(ch, msg));
          ch.once('close', () => this.onClose(ch));
        },
      },
      logger,
    );
  }

  /** Opens the confirm channel (waiting for the connection until `until`, epoch ms). */
  start(until?: number): Promise<void> {
    return this.channel.start(until);
  }

  /** Whether a confirm channel is open. */
  isReady(): boolean {
    return this.channel.channel !== undefined;
  }

  /**
   * Publishes and waits for the broker's confirm (see the class comment). Headers too large to
   * encode reject with `HeadersTooLargeError` before the channel is touched.
   */
  publish(p: RawPublish): Promise<void> {
    const headerBytes = encodedTableSize(p.properties.headers as Record<string, unknown> | undefined);
    if (headerBytes > MAX_ENCODED_HEADERS_BYTES) {
      const id = p.properties.messageId as string | undefined;
      return Promise.reject(new HeadersTooLargeError(id, headerBytes, MAX_ENCODED_HEADERS_BYTES));
    }
    const timeoutMs = p.timeoutMs ?? this.options.publishConfirmTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const ch = this.channel.channel;
    if (ch && !this.drained) {
      // fast path: no async frame, no timer per message
      return this.attempt(ch, p, deadline, timeoutMs).then((result) =>
        result === 'confirmed' ? undefined : this.afterAttempt(p, result, deadline, timeoutMs),
      );
    }
    return this.retryUntil(p, deadline, timeoutMs, 'not connected');
  }

  /** Closes the channel; unconfirmed publishes reject. */
  async stop(): Promise<void> {
    await this.channel.stop();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private async afterAttempt(p: RawPublish, result: AttemptResult, deadline: number, timeoutMs: number): Promise<void> {
    const messageId = p.properties.messageId as string | undefined;
    if (result === 'confirmed') return;
    if (result === 'returned') {
      if (p.targeted || this.options.unroutableEvents === 'reject') {
        throw new UnroutableMessageError(messageId, p.exchange, p.routingKey);
      }
      this.returnedEvents++;
      this.logger.warn?.(
        `Event ${messageId ?? ''} (${p.routingKey}) was returned by RabbitMQ: no queue is bound to its type on "${p.exchange}"`,
      );
      return;
    }
    if (Date.now() >= deadline) throw new PublishTimeoutError(messageId, timeoutMs, result.retry);
    return this.retryUntil(p, deadline, timeoutMs, result.retry);
  }

  /** Slow path: waits for a channel (reconnection, back-pressure) and publishes again, until the deadline. */
  private async retryUntil(p: RawPublish, deadline: number, timeoutMs: number, reason: string): Promise<void> {
    const messageId = p.properties.messageId as string | undefined;
    let ch: ConfirmChannel;
    try {
      if (this.drained) await Promise.race([this.drained, untilDeadline(deadline)]);
      ch = await this.channel.get(deadline, 'publish');
    } catch (err) {
      if (err instanceof TransportNotConnectedError && Date.now() < deadline) throw err; // stopped
      throw new PublishTimeoutError(messageId, timeoutMs, reason);
    }
    return this.afterAttempt(p, await this.attempt(ch, p, deadline, timeoutMs), deadline, timeoutMs);
  }

  private attempt(ch: ConfirmChannel, p: RawPublish, deadline: number, timeoutMs: number): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve, reject) => {
      const entry: InFlight = {
        ch,
        messageId: p.properties.messageId,
        exchange: p.exchange,
        routingKey: p.routingKey,
        returned: false,
        deadline,
        timeoutMs,
        settle: (result) => {
          if (!this.inFlight.delete(entry)) return; // settled already (confirm after timeout, or the reverse)
          if (result instanceof Error) reject(result);
          else resolve(result);
        },
      };
      this.inFlight.add(entry);
      if (!this.sweeper) this.startSweeper();
      const props = p.properties;
      props.mandatory = true;
      props.persistent = true;
      let hasRoom: boolean;
      try {
        hasRoom = ch.publish(p.exchange, p.routingKey, p.content, props, (err) =>
          entry.settle(
            err ? { retry: (err as Error).message ?? String(err) } : entry.returned ? 'returned' : 'confirmed',
          ),
        );
      } catch (err) {
        if ((err as Error).name === 'IllegalOperationError') {
          entry.settle({ retry: (err as Error).message }); // channel closed under us: publish again on the next one
          return;
        }
        // Anything else (e.g. a property amqplib cannot encode) may leave amqplib's confirm window
        // out of step: recycle the channel so no later confirm is attributed to the wrong message.
        entry.settle(err as Error);
        this.channel.recycle();
        return;
      }
      if (!hasRoom && !this.drained) this.waitDrain(ch);
    });
  }

  /** One timer for every in-flight publish: rejects those past their deadline. */
  private startSweeper(): void {
    this.sweeper = setInterval(() => {
      if (this.inFlight.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
        return;
      }
      const now = Date.now();
      for (const entry of this.inFlight) {
        if (entry.deadline <= now) {
          entry.settle(new PublishTimeoutError(entry.messageId as string | undefined, entry.timeoutMs, 'no confirm'));
        }
      }
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  private waitDrain(ch: ConfirmChannel): void {
    this.drained = new Promise<void>((resolve) => {
      const done = (): void => {
        ch.removeListener('drain', done);
        ch.removeListener('close', done);
        this.drained = undefined;
        resolve();
      };
      ch.once('drain', done);
      ch.once('close', done);
    });
  }

  /**
   * The channel closed: every publish still waiting for its confirm on it is published again on the
   * next channel. amqplib calls the confirm callbacks of a closing channel itself, but stops at the
   * first slot the broker confirmed out of order (its window holds `null` there), so the callbacks
   * after it would never be called and those publishes would wait for their deadline
   * (`PublishTimeoutError` after `publishConfirmTimeoutMs`, seen under connection kills). Settling
   * twice is harmless: an entry settles once.
   */
  private onClose(ch: ConfirmChannel): void {
    for (const entry of this.inFlight) if (entry.ch === ch) entry.settle({ retry: 'channel closed' });
  }

  private onReturn(ch: ConfirmChannel, msg: Message): void {
    // RabbitMQ sends basic.return before the confirm of the same publish, so the entry is still here
    for (const entry of this.inFlight) {
      if (
        entry.ch === ch &&
        !entry.returned &&
        entry.messageId === msg.properties.messageId &&
        entry.routingKey === msg.fields.routingKey &&
        entry.exchange === msg.fields.exchange
      ) {
        entry.returned = true;
        return;
      }
    }
  }
}

function untilDeadline(deadline: number): Promise<never> {
  return new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error('deadline')), Math.max(1, deadline - Date.now())).unref();
  });
}
