import { Logger } from '@nestjs/common';
import { bodyByteLength, encodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import { MessagingError } from '../errors/messaging.error';
import {
  NoResponderError,
  QueryInterruptedError,
  QueryTimeoutError,
  RemoteHandlerError,
  ReplyTooLargeError,
} from '../errors/remote-query.errors';
import { toErrorInfo } from '../errors/error-info';
import { checkTimeout, type ResolvedRemoteOptions } from './remote-options';
import { describeEndpoint, queuePrefixOf } from './remote-endpoints';
import { decodeReply } from './reply.codec';
import type { ReplySink, RequestReplyTransport } from './request-reply.interface';

/** Options of `QueryBus.execute` for a routed query. */
export interface RemoteQueryCallOptions {
  /** How long to wait for the reply, ms. Default: `remote.queryTimeoutMs`. */
  timeoutMs?: number;
}

interface Pending {
  /** The endpoint as routed. */
  endpoint: string;
  /** Its queue prefix (`remote.endpoints`). */
  prefix: string;
  type: string;
  timer: NodeJS.Timeout;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * Sends routed queries and matches their replies by request id: each call ends exactly once, with
 * the reply's result, a `RemoteHandlerError`, a `QueryTimeoutError`, a `NoResponderError`, a
 * `ReplyTooLargeError` or a `QueryInterruptedError`; nothing is re-sent. Replies for no (or no
 * longer) pending request are counted in `strayReplies` and dropped with a debug log.
 */
export class RemoteQueryClient implements ReplySink {
  private readonly logger = new Logger('MessagingRemote');
  private readonly pending = new Map<string, Pending>();
  /** Replies that matched no pending request (unknown, timed out, or answered already). */
  strayReplies = 0;
  private closed = false;

  constructor(
    private readonly transport: RequestReplyTransport,
    private readonly options: ResolvedRemoteOptions,
  ) {}

  /** Starts receiving replies. */
  start(): Promise<void> {
    return this.transport.startClient(this);
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends the query of `envelope` to `endpoint` (as routed; its queue prefix from
   * `remote.endpoints`) and resolves to the reply's result.
   */
  request(endpoint: string, envelope: MessageEnvelope, options: RemoteQueryCallOptions | undefined): Promise<unknown> {
    const prefix = queuePrefixOf(this.options.endpoints, endpoint);
    if (this.closed) {
      return Promise.reject(
        new QueryInterruptedError(endpoint, envelope.type, 'the messaging module is shutting down', prefix),
      );
    }
    let timeoutMs: number;
    try {
      timeoutMs =
        options?.timeoutMs === undefined ? this.options.queryTimeoutMs : checkTimeout(options.timeoutMs, 'timeoutMs');
    } catch (error) {
      return Promise.reject(error);
    }
    const requestId = envelope.id;
    const type = envelope.type;
    const body = encodeEnvelope(envelope);
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(requestId, new QueryTimeoutError(endpoint, type, timeoutMs, prefix)),
        timeoutMs,
      );
      this.pending.set(requestId, { endpoint, prefix, type, timer, resolve, reject });
      const deadline = Date.now() + timeoutMs;
      const isPending = () => this.pending.has(requestId);
      const request = { endpoint: prefix, requestId, type, body, timeoutMs, deadline, isPending };
      this.transport
        .send(prefix === endpoint ? request : { ...request, endpointName: endpoint })
        .catch((error: unknown) => {
          const failure =
            error instanceof MessagingError
              ? error
              : new QueryInterruptedError(
                  endpoint,
                  type,
                  `it could not be sent: ${toErrorInfo(error).message}`,
                  prefix,
                );
          this.settle(requestId, failure);
        });
    });
  }

  /** @internal ReplySink: a reply for `requestId`. */
  reply(body: Buffer | string, requestId: string | undefined): void {
    const p = requestId === undefined ? undefined : this.pending.get(requestId);
    if (p === undefined) {
      this.strayReplies++;
      this.logger.debug(
        `dropped a reply for no pending request (request id ${JSON.stringify(requestId?.slice(0, 100))}; timed out, or unknown)`,
      );
      return;
    }
    const bytes = bodyByteLength(body);
    if (bytes > this.options.maxReplyBytes) {
      this.settle(requestId!, new ReplyTooLargeError(p.type, bytes, this.options.maxReplyBytes));
      return;
    }
    let outcome: unknown;
    try {
      const reply = decodeReply(body);
      if (reply.ok) outcome = { result: reply.result };
      // the kind of failure comes from the responder machinery's status, never from an error's
      // name (a handler's own QueryInterruptedError from a query it made is a handler error)
      else if (reply.status === 'interrupted') {
        const reason = `the instance of "${p.endpoint}" that took it stopped before answering (queries are not run twice)`;
        outcome = new QueryInterruptedError(p.endpoint, p.type, reason, p.prefix);
      } else if (reply.status === 'too-large') {
        outcome = new ReplyTooLargeError(
          p.type,
          undefined,
          undefined,
          `service ${describeEndpoint(p.endpoint, p.prefix)}: ${reply.error.message}`,
        );
      } else {
        const e = reply.error;
        outcome = new RemoteHandlerError(p.endpoint, p.type, e.name, e.message, e.stack, p.prefix);
      }
    } catch (error) {
      outcome = error; // MalformedMessageError: the reply is not one
    }
    this.settle(requestId!, outcome instanceof Error ? outcome : undefined, (outcome as { result?: unknown }).result);
  }

  /** @internal ReplySink: the broker returned the request (no queue for its endpoint). */
  noResponder(requestId: string): void {
    const p = this.pending.get(requestId);
    if (p !== undefined) this.settle(requestId, new NoResponderError(p.endpoint, p.type, p.prefix));
  }

  /** @internal ReplySink: no pending request can get its reply any more. */
  lost(reason: string): void {
    for (const [id, p] of [...this.pending]) {
      this.settle(id, new QueryInterruptedError(p.endpoint, p.type, reason, p.prefix));
    }
  }

  /** Fails every pending request (`QueryInterruptedError`) and stops. */
  close(): void {
    this.closed = true;
    this.lost('the messaging module is shutting down');
  }

  private settle(requestId: string, error: Error | undefined, result?: unknown): void {
    const p = this.pending.get(requestId);
    if (p === undefined) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    if (error !== undefined) p.reject(error);
    else p.resolve(result);
  }
}
