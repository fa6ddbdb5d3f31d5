import type { LoggerService } from '@nestjs/common';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { PublishTimeoutError } from './errors/publish-timeout.error';
import { TransportNotConnectedError } from './errors/transport-not-connected.error';
import { UnroutableMessageError } from './errors/unroutable-message.error';
import { ManagedChannel } from './managed-channel';
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
  messageId: unknown;
  exchange: string;
  routingKey: string;
  returned: boolean;
}

type AttemptResult = 'confirmed' | 'returned' | { retry: string };

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
  private readonly inFlight = new WeakMap<ConfirmChannel, Set<InFlight>>();
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
          this.inFlight.set(ch, new Set());
          ch.on('return', (msg: Message) => this.onReturn(ch, msg));
        },
      },
      logger,
    );
  }

  /** Opens the confirm channel. */
  start(): Promise<void> {
    return this.channel.start();
  }

  /** Whether a confirm channel is open. */
  isReady(): boolean {
    return this.channel.channel !== undefined;
  }

  /** Publishes and waits for the broker's confirm (see the class comment). */
  async publish(p: RawPublish): Promise<void> {
    const timeoutMs = p.timeoutMs ?? this.options.publishConfirmTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const messageId = p.properties.messageId as string | undefined;
    let lastReason = 'not connected';
    for (;;) {
      let ch = this.channel.channel;
      if (!ch || this.drained) {
        try {
          if (this.drained) await Promise.race([this.drained, untilDeadline(deadline)]);
          ch = await this.channel.get(deadline, 'publish');
        } catch (err) {
          if (err instanceof TransportNotConnectedError && Date.now() < deadline) throw err; // closed
          throw new PublishTimeoutError(messageId, timeoutMs, lastReason);
        }
      }
      const result = await this.attempt(ch, p, deadline, timeoutMs);
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
      lastReason = result.retry;
      if (Date.now() >= deadline) throw new PublishTimeoutError(messageId, timeoutMs, lastReason);
    }
  }

  /** Closes the channel; unconfirmed publishes reject. */
  stop(): Promise<void> {
    return this.channel.stop();
  }

  private attempt(ch: ConfirmChannel, p: RawPublish, deadline: number, timeoutMs: number): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve, reject) => {
      const set = this.inFlight.get(ch);
      const entry: InFlight = {
        messageId: p.properties.messageId,
        exchange: p.exchange,
        routingKey: p.routingKey,
        returned: false,
      };
      set?.add(entry);
      let settled = false;
      const timer = setTimeout(
        () => {
          if (settled) return;
          settled = true;
          set?.delete(entry);
          reject(new PublishTimeoutError(p.properties.messageId as string | undefined, timeoutMs, 'no confirm'));
        },
        Math.max(1, deadline - Date.now()),
      );
      const done = (err: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        set?.delete(entry);
        if (err) resolve({ retry: (err as Error).message ?? String(err) });
        else resolve(entry.returned ? 'returned' : 'confirmed');
      };
      let hasRoom: boolean;
      try {
        hasRoom = ch.publish(
          p.exchange,
          p.routingKey,
          p.content,
          { ...p.properties, mandatory: true, persistent: true },
          done,
        );
      } catch (err) {
        if ((err as Error).name === 'IllegalOperationError') {
          done(err); // channel closed under us: publish again on the next one
          return;
        }
        // Anything else (e.g. a property amqplib cannot encode) may leave amqplib's confirm window
        // out of step: recycle the channel so no later confirm is attributed to the wrong message.
        settled = true;
        clearTimeout(timer);
        set?.delete(entry);
        this.channel.recycle();
        reject(err);
        return;
      }
      if (!hasRoom && !this.drained) this.waitDrain(ch);
    });
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

  private onReturn(ch: ConfirmChannel, msg: Message): void {
    const set = this.inFlight.get(ch);
    if (!set) return;
    for (const entry of set) {
      if (
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
