import { Logger } from '@nestjs/common';
import { bodyByteLength, checkContentType, decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { UnknownMessageTypeError } from '../errors/unknown-message-type.error';
import { HandlerTimeoutError } from '../errors/handler-timeout.error';
import { isThenable, withTimeout } from './with-timeout';
import { runInMessageContext, type MessageContextState } from '../context/message-context';
import type { UpcasterRegistry } from '../message/upcaster.registry';
import type { MessageValidator } from '../message/message.validator';
import type { SubscriberDefinition, SubscriberRoute } from '../discovery/handler.registry';
import type { DeliveryHandler, DeliveryOutcome, InboundMessage } from '../transport/transport.interface';
import type { RetryScheduler, SubscriberUnitOfWork } from './unit-of-work.interface';
import { bindObserver, type ConsumerObserver, type SubscriberObserver } from '../monitoring/subscriber-stats';
import type { ConsumeWrapper } from '../tracing/consume-wrapper';
import { isPermanentFailure, retryDelay } from './retry.policy';
import { MessageBusyError } from '../errors/message-busy.error';
import { DeliveryNotStartedError } from '../errors/delivery-not-started.error';

/** How many handler timeouts after its first failure a busy message is retried without counting attempts. */
const BUSY_WINDOW = 10;
import { toErrorInfo } from '../errors/error-info';

export { toErrorInfo, withTimeout };

/** One delivery's bookkeeping: whether the observer was told how it settled. */
interface Delivery {
  settled: boolean;
}

/** Tells the observer how `delivery` settled, unless it was told already (by a `handled` that then threw). */
function settleOnce(delivery: Delivery, notify: () => void): void {
  if (delivery.settled) return;
  delivery.settled = true;
  notify();
}

const ACK: DeliveryOutcome = Object.freeze({ status: 'ack' }) as DeliveryOutcome;
const NOT_STARTED: DeliveryOutcome = Object.freeze({ status: 'not-started' }) as DeliveryOutcome;

/** What the pipeline needs; the outbox feature supplies `unitOfWork` and `retryScheduler`. */
export interface ConsumerPipelineDeps {
  /** This service: the inbox key is `<service>.<subscriber>`, so services may share the inbox table. */
  serviceName: string;
  maxMessageBytes: number;
  upcasters: UpcasterRegistry;
  validator: MessageValidator;
  observer: ConsumerObserver;
  /** Runs each handling inside e.g. a tracing span (`MessagingTracing.consumeWrapper`). */
  wrap?: ConsumeWrapper;
  unitOfWork?: SubscriberUnitOfWork;
  retryScheduler?: RetryScheduler;
}

/**
 * The consumer pipeline for one delivery: size limit → decode → route → upcast → validate →
 * inbox + handler (in the message context, with a timeout) → outcome. It never throws: every
 * failure becomes a retry (transient) or a dead letter (permanent, or retries exhausted). A
 * delivery whose handler had not started when its `stopping` signal aborted (shutdown) is no
 * failure: `not-started`, for the transport to give back uncounted.
 */
export class ConsumerPipeline {
  private readonly logger = new Logger('MessagingConsumer');
  private lastTime = '';
  private lastTimeMs = 0;

  constructor(private readonly deps: ConsumerPipelineDeps) {}

  /** The delivery handler a transport calls for `subscriber`. */
  handlerFor(subscriber: SubscriberDefinition): DeliveryHandler {
    const observer = bindObserver(this.deps.observer, subscriber.name);
    return (message: InboundMessage) => this.handle(subscriber, message, observer);
  }

  /** Every failure, synchronous or not, goes to `onFailure`: never rejects. */
  private async handle(
    sub: SubscriberDefinition,
    message: InboundMessage,
    observer: SubscriberObserver,
  ): Promise<DeliveryOutcome> {
    const started = performance.now();
    // exactly one of handled / retried / deadLettered settles this delivery, even when one of them throws
    const delivery: Delivery = { settled: false };
    try {
      observer.started?.();
    } catch {
      // an observer's failure is not the message's: it is handled all the same
    }
    let envelope: MessageEnvelope | undefined;
    try {
      const env = (envelope = this.decode(message));
      const route = sub.routes.get(env.type);
      if (route === undefined) throw new UnknownMessageTypeError(env.type, sub.name);
      const data = this.deps.upcasters.upcast(env.type, env.version, route.version, env.data);
      const state: MessageContextState = {
        correlationId: env.correlationId,
        message: env,
        kind: sub.kind ?? 'event',
        subscriber: sub.name,
        attempt: message.attempt,
      };
      // `data` is the decoder's own copy unless an upcaster made a new one (which may share objects)
      const payload = route.cls
        ? await this.deps.validator.materialize(env.type, route.cls, data, data === env.data)
        : data;
      if (message.stopping?.aborted) throw new DeliveryNotStartedError(env.id, sub.name);
      const duplicate = await this.wrapped(sub, route, state, payload, message.stopping);
      return this.handled(sub, message, env, started, duplicate, observer, delivery);
    } catch (error) {
      // only at shutdown (the signal aborted): a handler's own error never makes its delivery uncounted
      const notStarted = error instanceof DeliveryNotStartedError && message.stopping?.aborted === true;
      if (notStarted) return this.notStarted(observer, delivery);
      return this.onFailure(sub, message, envelope, error, observer, delivery);
    }
  }

  /** A delivery given back unhandled (its handler never started): no attempt, no failure. */
  private notStarted(observer: SubscriberObserver, delivery: Delivery): DeliveryOutcome {
    try {
      settleOnce(delivery, () => observer.returned?.());
    } catch {
      // an observer's failure does not change what becomes of the delivery
    }
    return NOT_STARTED;
  }

  /** Records a successful handling (or a duplicate skipped by the inbox): the delivery is acked. */
  private handled(
    sub: SubscriberDefinition,
    message: InboundMessage,
    env: MessageEnvelope,
    started: number,
    duplicate: boolean,
    observer: SubscriberObserver,
    delivery: Delivery,
  ): DeliveryOutcome | Promise<DeliveryOutcome> {
    try {
      const now = Date.now();
      const durationMs = performance.now() - started;
      delivery.settled = true; // before the call: an observer that throws has settled it all the same
      observer.handled(durationMs, Math.max(0, now - this.timeOf(env.time)), duplicate, now);
      return ACK;
    } catch (error) {
      return this.onFailure(sub, message, env, error, observer, delivery);
    }
  }

  /** `invoke`, inside `deps.wrap` when there is one (tracing). */
  private wrapped(
    sub: SubscriberDefinition,
    route: SubscriberRoute,
    state: MessageContextState,
    payload: unknown,
    stopping: AbortSignal | undefined,
  ): Promise<boolean> {
    const wrap = this.deps.wrap;
    if (wrap === undefined || (wrap.wraps !== undefined && !wrap.wraps(state.message!))) {
      return this.invoke(sub, route, state, payload, stopping);
    }
    return wrap(state.message!, sub.name, state.attempt ?? 1, () => this.invoke(sub, route, state, payload, stopping));
  }

  /**
   * Runs the handler in the message context (and the inbox transaction), with the timeout.
   * Resolves whether the inbox found the message already processed; rejects with
   * `DeliveryNotStartedError` when `stopping` aborted while it waited for a commit group.
   */
  private invoke(
    sub: SubscriberDefinition,
    route: SubscriberRoute,
    state: MessageContextState,
    payload: unknown,
    stopping: AbortSignal | undefined,
  ): Promise<boolean> {
    const uow = sub.inbox ? this.deps.unitOfWork : undefined;
    if (uow) {
      const env = state.message!;
      // the unit of work keeps the time limit: on timeout it abandons its transaction (rolled back,
      // connection closed) so no later attempt waits on a lock this one still holds
      return runInMessageContext(state, () =>
        uow.run(
          env,
          `${this.deps.serviceName}.${sub.name}`,
          async (tx) => {
            state.transaction = tx;
            await route.invoke(payload);
          },
          {
            timeoutMs: sub.timeoutMs,
            timeoutError: () => new HandlerTimeoutError(sub.name, sub.timeoutMs),
            groupSize: sub.groupSize,
            lanes: sub.concurrency,
            stopping,
          },
        ),
      ).then((done) => !done);
    }
    return runInMessageContext(state, async () => {
      const result = route.invoke(payload);
      // a handler that finished synchronously has nothing left to time out
      if (isThenable(result)) await withTimeout(sub.name, sub.timeoutMs, result);
      return false;
    });
  }

  /** Size limit, then the envelope decoded from the body. */
  private decode(message: InboundMessage): MessageEnvelope {
    const max = this.deps.maxMessageBytes;
    const { body } = message;
    // a string's byte length is at most 3× its length: skip the count when clearly small
    if ((typeof body !== 'string' || body.length * 3 > max) && bodyByteLength(body) > max) {
      throw new MessageTooLargeError(bodyByteLength(body), max);
    }
    checkContentType(message.contentType, message.contentEncoding);
    return decodeEnvelope(body);
  }

  /** `Date.parse(time)`, remembering the last one (consecutive messages share their time). */
  private timeOf(time: string): number {
    if (time !== this.lastTime) {
      this.lastTime = time;
      this.lastTimeMs = Date.parse(time);
    }
    return this.lastTimeMs;
  }

  /** The retry policy's verdict; a throwing `isPermanent` counts as transient (retries are bounded). */
  private isPermanent(sub: SubscriberDefinition, error: unknown, where: string): boolean {
    try {
      return isPermanentFailure(sub.retry, error);
    } catch (classifyError) {
      this.logger.error(
        `retry.isPermanent threw (${toErrorInfo(classifyError).message}); retrying as transient (${where})`,
      );
      return false;
    }
  }

  private async onFailure(
    sub: SubscriberDefinition,
    message: InboundMessage,
    envelope: MessageEnvelope | undefined,
    error: unknown,
    observer: SubscriberObserver,
    delivery: Delivery,
  ): Promise<DeliveryOutcome> {
    const now = new Date().toISOString();
    const firstFailureAt = message.firstFailureAt ?? now;
    const info = toErrorInfo(error);
    const where = `id=${envelope?.id ?? '?'} type=${envelope?.type ?? '?'} subscriber=${sub.name} attempt=${message.attempt} correlationId=${envelope?.correlationId ?? '?'}`;
    // Busy elsewhere is not this message failing: another delivery of it holds its inbox row and will
    // commit (then this one finds it processed) or roll back (then this one handles it). So it is
    // retried without using up an attempt, for as long as such a holder can exist: a holder is
    // abandoned after the handler timeout (a commit group holds every row of the group while its
    // handlers run one after another: at most groupSize + 1 timeouts), so BUSY_WINDOW (+ groupSize)
    // timeouts after the first failure it is counted as an ordinary failure again (and may
    // dead-letter).
    const window = (BUSY_WINDOW + (sub.groupSize > 1 ? sub.groupSize : 0)) * sub.timeoutMs;
    const busy = error instanceof MessageBusyError && Date.parse(now) - Date.parse(firstFailureAt) < window;
    if (busy || (!this.isPermanent(sub, error, where) && message.attempt <= sub.retry.maxRetries)) {
      const delayMs = retryDelay(sub.retry, message.attempt);
      const nextAttempt = busy ? message.attempt : message.attempt + 1;
      this.logger.warn(
        busy
          ? `attempt ${message.attempt} found the message busy elsewhere, retry in ${delayMs} ms (not counted as an attempt): ${info.message} (${where})`
          : `attempt ${message.attempt} failed, retry in ${delayMs} ms: ${info.name}: ${info.message} (${where})`,
      );
      settleOnce(delivery, () => observer.retried());
      if (this.deps.retryScheduler && envelope) {
        try {
          const body = typeof message.body === 'string' ? message.body : message.body.toString('utf8');
          await this.deps.retryScheduler.scheduleRetry(
            envelope,
            body,
            sub.name,
            delayMs,
            nextAttempt,
            firstFailureAt,
            message.carriedHeaders?.(),
          );
          return ACK;
        } catch (scheduleError) {
          this.logger.error(
            `could not schedule the retry in the outbox, the transport retries instead: ${toErrorInfo(scheduleError).message} (${where})`,
          );
        }
      }
      return { status: 'retry', delayMs, nextAttempt, error: info, firstFailureAt };
    }
    this.logger.error(`dead-lettered after ${message.attempt} attempt(s): ${info.name}: ${info.message} (${where})`);
    settleOnce(delivery, () => observer.deadLettered());
    return {
      status: 'dead-letter',
      error: info,
      attempts: message.attempt,
      firstFailureAt,
      lastFailureAt: now,
      envelope,
    };
  }
}
