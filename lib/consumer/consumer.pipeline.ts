import { Logger } from '@nestjs/common';
import { decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { UnknownMessageTypeError } from '../errors/unknown-message-type.error';
import { HandlerTimeoutError } from '../errors/handler-timeout.error';
import { runInMessageContext, type MessageContextState } from '../context/message-context';
import type { UpcasterRegistry } from '../message/upcaster.registry';
import type { MessageValidator } from '../message/message.validator';
import type { SubscriberDefinition } from '../discovery/handler.registry';
import type { DeliveryHandler, DeliveryOutcome, ErrorInfo, InboundMessage } from '../transport/transport.interface';
import type { RetryScheduler, SubscriberUnitOfWork } from './unit-of-work.interface';
import type { ConsumerObserver } from '../monitoring/subscriber-stats';
import { isPermanentFailure, retryDelay } from './retry.policy';

const ACK: DeliveryOutcome = Object.freeze({ status: 'ack' }) as DeliveryOutcome;
const STACK_LINES = 6;

/** What the pipeline needs; the outbox feature supplies `unitOfWork` and `retryScheduler`. */
export interface ConsumerPipelineDeps {
  maxMessageBytes: number;
  upcasters: UpcasterRegistry;
  validator: MessageValidator;
  observer: ConsumerObserver;
  unitOfWork?: SubscriberUnitOfWork;
  retryScheduler?: RetryScheduler;
}

/** Error details safe to record: name, message, head of the stack. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    return {
      name: error.name || 'Error',
      message: String(error.message).slice(0, 2000),
      stack: error.stack?.split('\n').slice(0, STACK_LINES).join('\n'),
    };
  }
  return { name: 'NonError', message: String(error).slice(0, 2000) };
}

function byteLength(body: Buffer | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
}

/**
 * The consumer pipeline for one delivery: size limit → decode → route → upcast → validate →
 * inbox + handler (in the message context, with a timeout) → outcome. It never throws: every
 * failure becomes a retry (transient) or a dead letter (permanent, or retries exhausted).
 */
export class ConsumerPipeline {
  private readonly logger = new Logger('MessagingConsumer');

  constructor(private readonly deps: ConsumerPipelineDeps) {}

  /** The delivery handler a transport calls for `subscriber`. */
  handlerFor(subscriber: SubscriberDefinition): DeliveryHandler {
    return (message) => this.handle(subscriber, message);
  }

  private async handle(sub: SubscriberDefinition, message: InboundMessage): Promise<DeliveryOutcome> {
    const started = performance.now();
    let envelope: MessageEnvelope | undefined;
    try {
      const { body } = message;
      // a string's byte length is at most 3× its length: skip the count when clearly small
      if ((typeof body !== 'string' || body.length * 3 > this.deps.maxMessageBytes) && byteLength(body) > this.deps.maxMessageBytes) {
        throw new MessageTooLargeError(byteLength(body), this.deps.maxMessageBytes);
      }
      envelope = decodeEnvelope(body);
      const route = sub.routes.get(envelope.type);
      if (route === undefined) throw new UnknownMessageTypeError(envelope.type, sub.name);
      const data = this.deps.upcasters.upcast(envelope.type, envelope.version, route.version, envelope.data);
      const payload = route.cls ? await this.deps.validator.materialize(envelope.type, route.cls, data) : data;
      const state: MessageContextState = {
        correlationId: envelope.correlationId,
        message: envelope,
        kind: 'event',
        subscriber: sub.name,
        attempt: message.attempt,
      };
      const env = envelope;
      const uow = sub.inbox ? this.deps.unitOfWork : undefined;
      let duplicate = false;
      await runInMessageContext(state, () =>
        withTimeout(sub.name, sub.timeoutMs, async () => {
          if (uow) {
            duplicate = !(await uow.run(env, sub.name, async (tx) => {
              state.transaction = tx;
              await route.invoke(payload);
            }));
          } else {
            await route.invoke(payload);
          }
        }),
      );
      const now = Date.now();
      this.deps.observer.handled(sub.name, performance.now() - started, Math.max(0, now - Date.parse(envelope.time)), duplicate);
      return ACK;
    } catch (error) {
      return this.onFailure(sub, message, envelope, error);
    }
  }

  private async onFailure(
    sub: SubscriberDefinition,
    message: InboundMessage,
    envelope: MessageEnvelope | undefined,
    error: unknown,
  ): Promise<DeliveryOutcome> {
    const now = new Date().toISOString();
    const firstFailureAt = message.firstFailureAt ?? now;
    const info = toErrorInfo(error);
    const where = `id=${envelope?.id ?? '?'} type=${envelope?.type ?? '?'} subscriber=${sub.name} correlationId=${envelope?.correlationId ?? '?'}`;
    if (!isPermanentFailure(sub.retry, error) && message.attempt <= sub.retry.maxRetries) {
      const delayMs = retryDelay(sub.retry, message.attempt);
      const nextAttempt = message.attempt + 1;
      this.logger.warn(`attempt ${message.attempt} failed, retry in ${delayMs} ms: ${info.name}: ${info.message} (${where})`);
      this.deps.observer.retried(sub.name);
      if (this.deps.retryScheduler && envelope) {
        try {
          const body = typeof message.body === 'string' ? message.body : message.body.toString('utf8');
          await this.deps.retryScheduler.scheduleRetry(envelope, body, sub.name, delayMs, nextAttempt, firstFailureAt);
          return ACK;
        } catch (scheduleError) {
          this.logger.error(`could not schedule the retry in the outbox, the transport retries instead: ${toErrorInfo(scheduleError).message} (${where})`);
        }
      }
      return { status: 'retry', delayMs, nextAttempt, error: info, firstFailureAt };
    }
    this.logger.error(`dead-lettered after ${message.attempt} attempt(s): ${info.name}: ${info.message} (${where})`);
    this.deps.observer.deadLettered(sub.name);
    return { status: 'dead-letter', error: info, attempts: message.attempt, firstFailureAt, lastFailureAt: now, envelope };
  }
}

function withTimeout(subscriber: string, timeoutMs: number, work: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new HandlerTimeoutError(subscriber, timeoutMs)), timeoutMs);
    work().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
