import type { LoggerService } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import type { MessageEnvelope } from '../../message/envelope';
import type { DeliveryOutcome, ErrorInfo, TransportContext } from '../transport.interface';
import { UnroutableMessageError } from './errors/unroutable-message.error';
import type { RabbitMqConnection } from './rabbitmq.connection';
import { sleep } from './amqp-settle.util';
import {
  deadLetterProperties,
  redeliveryProperties,
  retryProperties,
  returnProperties,
  stackHead,
  toDeadLetter,
  type DeadLetterFacts,
} from './rabbitmq.message';
import type { RabbitMqNaming } from './rabbitmq.naming';
import type { RabbitMqPublisher } from './rabbitmq.publisher';
import type { RabbitMqTopology } from './rabbitmq.topology';

/** What the failure publisher needs from the transport. */
export interface FailurePublisherDeps {
  connection: RabbitMqConnection;
  publisher: RabbitMqPublisher;
  topology: RabbitMqTopology;
  naming: RabbitMqNaming;
  context: TransportContext;
  logger: LoggerService;
  /** New dead-letter record id. */
  newId: () => string;
}

/** Why a delivery is dead-lettered. */
export interface DeadLetterReason {
  error: ErrorInfo;
  attempts: number;
  firstFailureAt: string;
  lastFailureAt: string;
  envelope?: MessageEnvelope;
}

/** One delivery being settled: `stillOpen` tells whether its channel is open, `ack` acknowledges it. */
export interface Settling {
  msg: ConsumeMessage;
  stillOpen: () => boolean;
  ack: () => void;
}

/**
 * How long `givenBack` waits for give-backs still unconfirmed: closing the channel before a copy's
 * confirm (and the original's ack) would leave two copies. One confirmed publish takes milliseconds
 * unless the broker is in trouble.
 */
const GIVE_BACK_GRACE_MS = 2_000;

type Attempted = { status: 'published' } | { status: 'gave-up' } | { status: 'permanent'; error: Error };

/** A publish error that cannot go away by publishing the same properties again (encoding). */
function isPermanent(err: unknown): boolean {
  return (err as { permanent?: unknown })?.permanent === true || err instanceof RangeError;
}

/**
 * Publishes what a subscriber's failed deliveries become — a retry through a delay queue, a dead
 * letter, or a redelivered message re-published with its attempt raised — or a delivery given back
 * unhandled at a shutdown (re-published as it was), and acknowledges the
 * original only once the broker confirmed. Transient publish errors are retried with backoff while
 * the delivery's channel is open (else the broker redelivers the original). Errors that cannot go
 * away (headers too large to encode) are not retried: the message is dead-lettered instead with
 * minimal properties (identity + reason headers, no foreign header, body unchanged; a give-back is
 * left to the broker), so one odd message can neither hold its handler slot nor disturb the shared
 * publisher channel.
 */
export class FailurePublisher {
  /** Give-backs not settled yet (published and acked, or given up). */
  private readonly returning = new Set<Promise<void>>();

  constructor(
    private readonly queue: string,
    private readonly subscriber: string,
    private readonly deps: FailurePublisherDeps,
  ) {}

  /** Schedules the retry; dead-letters instead when it can never be published. */
  async retry(d: Settling, outcome: Extract<DeliveryOutcome, { status: 'retry' }>): Promise<void> {
    const result = await this.untilPublished(d, () => this.publishRetry(d.msg, outcome));
    if (result.status === 'published') return d.ack();
    if (result.status === 'permanent') {
      const now = new Date().toISOString();
      await this.fallback(d, result.error, 'retry', {
        error: outcome.error,
        attempts: outcome.nextAttempt - 1,
        firstFailureAt: outcome.firstFailureAt,
        lastFailureAt: now,
      });
    }
  }

  /** Publishes the dead letter, acks, then calls `context.onDeadLetter`. */
  async deadLetter(d: Settling, reason: DeadLetterReason): Promise<void> {
    const facts = this.facts(reason);
    const result = await this.untilPublished(d, () => this.publishDeadLetter(d.msg, facts, false));
    if (result.status === 'published') this.deadLettered(d, facts, reason.envelope);
    else if (result.status === 'permanent') await this.fallback(d, result.error, 'dead letter', reason);
  }

  /**
   * Publishes a redelivered message again to its own queue with `attempt` and `redeliveries`
   * recorded, then acks the original (see `SubscriberConsumer` for why).
   */
  async redeliver(d: Settling, attempt: number, redeliveries: number, reason: DeadLetterReason): Promise<void> {
    const result = await this.untilPublished(d, () =>
      this.deps.publisher.publish({
        exchange: '',
        routingKey: this.queue,
        content: d.msg.content,
        properties: redeliveryProperties(d.msg, attempt, redeliveries, reason.firstFailureAt),
        targeted: true,
      }),
    );
    if (result.status === 'published') d.ack();
    else if (result.status === 'permanent') await this.fallback(d, result.error, 'redelivery', reason);
  }

  /**
   * Gives a delivery whose handler never started back to its own queue uncounted: publishes it again
   * as it was (`trusted`: its headers as far as they are believed), then acks the original. A requeue
   * (`nack`) cannot do this: RabbitMQ marks a requeued message `redelivered`, which counts as an
   * attempt. If the copy cannot be published the original stays unacknowledged: the broker
   * redelivers it when the channel closes (counted, as before).
   */
  giveBack(d: Settling, trusted: Record<string, unknown>): Promise<void> {
    const done = this.returnToQueue(d, trusted);
    const tracked = done.catch(() => undefined).finally(() => this.returning.delete(tracked));
    this.returning.add(tracked);
    return done;
  }

  /** Waits for the give-backs still in flight, at most {@link GIVE_BACK_GRACE_MS} (at shutdown). */
  async givenBack(): Promise<void> {
    if (this.returning.size > 0) await Promise.race([Promise.all(this.returning), sleep(GIVE_BACK_GRACE_MS)]);
  }

  private async returnToQueue(d: Settling, trusted: Record<string, unknown>): Promise<void> {
    const result = await this.untilPublished(d, () =>
      this.deps.publisher.publish({
        exchange: '',
        routingKey: this.queue,
        content: d.msg.content,
        properties: returnProperties(d.msg, trusted),
        targeted: true,
      }),
    );
    if (result.status === 'published') d.ack();
    else if (result.status === 'permanent') {
      this.deps.logger.warn?.(
        `Could not give a message back to ${this.queue} (${result.error.message}); the broker redelivers it`,
      );
    }
  }

  /** Dead-letters with minimal properties after `what` could never be published. */
  private async fallback(d: Settling, error: Error, what: string, reason: DeadLetterReason): Promise<void> {
    this.deps.logger.error?.(
      `Could not publish the ${what} of a message from ${this.queue} (${error.message}); dead-lettering it without its foreign headers`,
    );
    const facts = this.facts({
      ...reason,
      error: { ...reason.error, message: `${reason.error.message} [${what} not publishable: ${error.message}]` },
    });
    const result = await this.untilPublished(d, () => this.publishDeadLetter(d.msg, facts, true));
    if (result.status === 'published') this.deadLettered(d, facts, reason.envelope);
    else if (result.status === 'permanent') {
      // unreachable in practice (minimal properties are a few KB): leave it unacknowledged, logged
      this.deps.logger.error?.(`Could not dead-letter a message from ${this.queue}: ${result.error.message}`);
    }
  }

  private facts(reason: DeadLetterReason): DeadLetterFacts {
    return {
      id: this.deps.newId(),
      subscriber: this.subscriber,
      sourceQueue: this.queue,
      error: { ...reason.error, stack: stackHead(reason.error.stack) },
      attempts: reason.attempts,
      firstFailureAt: reason.firstFailureAt,
      lastFailureAt: reason.lastFailureAt,
      deadLetteredAt: new Date().toISOString(),
    };
  }

  private deadLettered(d: Settling, facts: DeadLetterFacts, envelope?: MessageEnvelope): void {
    d.ack();
    try {
      this.deps.context.onDeadLetter(toDeadLetter(d.msg.content, facts, envelope, d.msg.properties));
    } catch (err) {
      this.deps.logger.error?.(`onDeadLetter hook failed: ${(err as Error).message}`);
    }
  }

  private async publishDeadLetter(msg: ConsumeMessage, facts: DeadLetterFacts, minimal: boolean): Promise<void> {
    try {
      await this.deps.publisher.publish({
        exchange: '',
        routingKey: this.deps.naming.deadLetterQueue,
        content: msg.content,
        properties: deadLetterProperties(msg, facts, minimal),
        targeted: true,
      });
    } catch (err) {
      // the dead-letter queue was deleted under us: declare it again before the next try
      if (err instanceof UnroutableMessageError) await this.deps.topology.declareService().catch(() => undefined);
      throw err;
    }
  }

  private async publishRetry(
    msg: ConsumeMessage,
    outcome: Extract<DeliveryOutcome, { status: 'retry' }>,
  ): Promise<void> {
    const level = await this.deps.topology.levelFor(outcome.delayMs);
    try {
      await this.deps.publisher.publish({
        exchange: level > 0 ? this.deps.naming.retryExchange : '',
        routingKey: this.queue, // kept when the delay queue dead-letters it to the default exchange
        content: msg.content,
        properties: retryProperties(msg, outcome, level),
        targeted: true,
      });
    } catch (err) {
      if (err instanceof UnroutableMessageError && level > 0) this.deps.topology.forgetDelayLevel(level);
      throw err;
    }
  }

  /**
   * Retries a confirmed publish with backoff until it succeeds; gives up, leaving the original
   * unacknowledged for redelivery, when its channel closed or on shutdown; stops at once on an
   * error that publishing again cannot cure.
   */
  private async untilPublished(d: Settling, publish: () => Promise<void>): Promise<Attempted> {
    for (let failures = 0; ; failures++) {
      try {
        await publish();
        return { status: 'published' };
      } catch (err) {
        if (isPermanent(err)) return { status: 'permanent', error: err as Error };
        if (this.deps.connection.isClosed() || !d.stillOpen()) return { status: 'gave-up' };
        if (failures % 10 === 0) {
          this.deps.logger.warn?.(
            `Could not publish a retry/dead letter for ${this.queue} (${(err as Error).message}); trying again`,
          );
        }
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
        if (!d.stillOpen()) return { status: 'gave-up' };
      }
    }
  }
}
