import { Logger } from '@nestjs/common';
import { bodyByteLength, decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import type { MessageValidator } from '../message/message.validator';
import type { UpcasterRegistry } from '../message/upcaster.registry';
import { runInMessageContext, type MessageContextState } from '../context/message-context';
import { MessageTooLargeError } from '../errors/message-too-large.error';
import { UnknownMessageTypeError } from '../errors/unknown-message-type.error';
import { QueryInterruptedError, ReplyTooLargeError } from '../errors/remote-query.errors';
import { toErrorInfo } from '../errors/error-info';
import { withTimeout } from '../consumer/consumer.pipeline';
import type { ConsumeWrapper } from '../tracing/consume-wrapper';
import { encodeReply, type ErrorReplyStatus } from './reply.codec';
import { QUERIES_QUEUE, type RequestAnswerer } from './request-reply.interface';

/** A query this service answers for other services. */
export interface ResponderRoute {
  /** Version its handler understands (older requests are upcast). */
  version: number;
  /** When set, the request's data is rebuilt as this class and validated. */
  cls?: Function;
  /** The `@QueryHandler`'s `execute`. */
  execute: (query: unknown) => unknown;
}

/** What the responder needs. */
export interface QueryResponderDeps {
  serviceName: string;
  maxMessageBytes: number;
  maxReplyBytes: number;
  sendErrorStack: boolean;
  /** `handlerTimeoutMs`: a handler still running then is answered with `HandlerTimeoutError`. */
  timeoutMs: number;
  routes: Map<string, ResponderRoute>;
  validator: MessageValidator;
  upcasters: UpcasterRegistry;
  wrap?: ConsumeWrapper;
}

/**
 * Answers routed queries from other services: size limit → decode → route → upcast → validate →
 * the `@QueryHandler` in the message context (kind `query`, the caller's correlation, its request
 * as causation) → a reply. Every failure becomes an error reply (name and message; the stack only
 * with `remote.sendErrorStack`), and a reply over `maxReplyBytes` is replaced by a
 * `ReplyTooLargeError` reply, so the caller fails at once instead of waiting for its timeout.
 */
export class QueryResponder {
  private readonly logger = new Logger('MessagingRemote');

  constructor(private readonly deps: QueryResponderDeps) {}

  /** The answerer a `RequestReplyTransport` calls. Never rejects. */
  readonly answer: RequestAnswerer = async (body, redelivered) => {
    let envelope: MessageEnvelope | undefined;
    try {
      const bytes = bodyByteLength(body);
      if (bytes > this.deps.maxMessageBytes) throw new MessageTooLargeError(bytes, this.deps.maxMessageBytes);
      const env = (envelope = decodeEnvelope(body));
      if (redelivered) {
        const reason = 'the instance that took it stopped before answering; queries are not run twice';
        return this.failed(env, new QueryInterruptedError(this.deps.serviceName, env.type, reason), 'interrupted');
      }
      const result = await this.run(env);
      const reply = encodeReply(this.deps.serviceName, env, { ok: true, result });
      const size = Buffer.byteLength(reply, 'utf8');
      if (size <= this.deps.maxReplyBytes) return reply;
      return this.failed(env, new ReplyTooLargeError(env.type, size, this.deps.maxReplyBytes), 'too-large');
    } catch (error) {
      return this.failed(envelope, error, 'error');
    }
  };

  /** An error reply; `status` says who failed (see `DecodedReply`), never the error's name. */
  private failed(envelope: MessageEnvelope | undefined, error: unknown, status: ErrorReplyStatus): string {
    const info = toErrorInfo(error);
    if (!this.deps.sendErrorStack) delete info.stack;
    const where = `id=${envelope?.id ?? '?'} type=${envelope?.type ?? '?'} correlationId=${envelope?.correlationId ?? '?'}`;
    const log = status === 'too-large' ? 'error' : 'warn';
    this.logger[log](`query answered with an error: ${info.name}: ${info.message} (${where})`);
    return encodeReply(this.deps.serviceName, envelope, { ok: false, error: info, status });
  }

  private async run(env: MessageEnvelope): Promise<unknown> {
    const route = this.deps.routes.get(env.type);
    if (route === undefined) throw new UnknownMessageTypeError(env.type, QUERIES_QUEUE);
    const data = this.deps.upcasters.upcast(env.type, env.version, route.version, env.data);
    const query = route.cls
      ? await this.deps.validator.materialize(env.type, route.cls, data, data === env.data)
      : data;
    const state: MessageContextState = { correlationId: env.correlationId, message: env, kind: 'query' };
    // a hung handler must not hold a prefetch slot for good: answered after `timeoutMs`, its slot
    // is free again (the handler itself cannot be stopped and runs on, as a subscriber's does)
    const work = () =>
      withTimeout(
        QUERIES_QUEUE,
        this.deps.timeoutMs,
        runInMessageContext(state, () => Promise.resolve(route.execute(query))),
      );
    const wrap = this.deps.wrap;
    if (wrap === undefined || (wrap.wraps !== undefined && !wrap.wraps(env))) return work();
    return wrap(env, QUERIES_QUEUE, 1, work);
  }
}
