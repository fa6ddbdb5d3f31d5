import { MessagingError } from './messaging.error';
import { describeEndpoint } from '../remote/remote-endpoints';

/** `service "shipping"`, or `service "shipping" (queue prefix "staging-shipping")` when `remote.endpoints` maps it. */
function service(endpoint: string, queuePrefix: string | undefined): string {
  return `service ${describeEndpoint(endpoint, queuePrefix)}`;
}

/** `queuePrefix` when it differs from `endpoint`, else undefined. */
function mapped(endpoint: string, queuePrefix: string | undefined): string | undefined {
  return queuePrefix === endpoint ? undefined : queuePrefix;
}

/**
 * A routed query's remote handler threw: carries the remote error's name and message (and its
 * stack only when the answering service sends stacks, option `remote.sendErrorStack`). The local
 * stack of this error is the caller's.
 */
export class RemoteHandlerError extends MessagingError {
  constructor(
    /** The service (endpoint) that answered. */
    readonly endpoint: string,
    /** The query type. */
    readonly messageType: string,
    /** `name` of the error the remote handler threw, e.g. `NotFoundException`. */
    readonly remoteName: string,
    /** Its message. */
    readonly remoteMessage: string,
    /** Its stack head, when the remote service sends stacks. */
    readonly remoteStack?: string,
    /** The endpoint's queue prefix, when `remote.endpoints` maps it to another name. */
    readonly queuePrefix?: string,
  ) {
    super(`query "${messageType}" failed in ${service(endpoint, queuePrefix)}: ${remoteName}: ${remoteMessage}`);
    this.queuePrefix = mapped(endpoint, queuePrefix);
  }
}

/** No reply to a routed query came within its timeout (per call `timeoutMs`, else `remote.queryTimeoutMs`). */
export class QueryTimeoutError extends MessagingError {
  constructor(
    readonly endpoint: string,
    readonly messageType: string,
    readonly timeoutMs: number,
    /** The endpoint's queue prefix, when `remote.endpoints` maps it to another name. */
    readonly queuePrefix?: string,
  ) {
    super(`query "${messageType}" to ${service(endpoint, queuePrefix)} got no reply within ${timeoutMs} ms`);
    this.queuePrefix = mapped(endpoint, queuePrefix);
  }
}

/**
 * Nobody can answer a routed query: the endpoint's query queue does not exist (the service has not
 * started, or has been gone long enough for its queue to expire), or, in memory, no app instance of it runs.
 */
export class NoResponderError extends MessagingError {
  constructor(
    readonly endpoint: string,
    readonly messageType: string,
    /** The endpoint's queue prefix, when `remote.endpoints` maps it to another name. */
    readonly queuePrefix?: string,
  ) {
    super(
      `query "${messageType}" has no responder: ${service(endpoint, queuePrefix)} is not consuming its query queue ` +
        `(is it running, and does it handle "${messageType}" with @QueryHandler?` +
        `${mapped(endpoint, queuePrefix) === undefined ? '' : ' Is remote.endpoints right?'})`,
    );
    this.queuePrefix = mapped(endpoint, queuePrefix);
  }
}

/**
 * A reply to a routed query is larger than the limit (`remote.maxReplyBytes`, default
 * `maxMessageBytes`). Thrown by the caller for a reply it received, and sent back as the reply by
 * the answering service when its own answer is too large (so the caller fails at once, not by timeout).
 */
export class ReplyTooLargeError extends MessagingError {
  constructor(
    readonly messageType: string,
    readonly bytes: number | undefined,
    readonly maxBytes: number | undefined,
    detail?: string,
  ) {
    super(
      detail ??
        `the reply to query "${messageType}" is ${bytes} bytes, over the limit of ${maxBytes} bytes (remote.maxReplyBytes)`,
    );
  }
}

/**
 * The connection or channel that carried a routed query went away before its reply arrived (the
 * reply can no longer reach this caller). The query is not sent again: call again if it is safe.
 */
export class QueryInterruptedError extends MessagingError {
  constructor(
    readonly endpoint: string,
    readonly messageType: string,
    reason: string,
    /** The endpoint's queue prefix, when `remote.endpoints` maps it to another name. */
    readonly queuePrefix?: string,
  ) {
    super(`query "${messageType}" to ${service(endpoint, queuePrefix)} was interrupted before its reply: ${reason}`);
    this.queuePrefix = mapped(endpoint, queuePrefix);
  }
}
