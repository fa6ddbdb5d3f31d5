/** One routed query as a transport sends it. */
export interface OutgoingRequest {
  /** The queue prefix of the service that answers it (its endpoint after `remote.endpoints`). */
  endpoint: string;
  /** The endpoint as the routes name it, when `remote.endpoints` maps it to another prefix (for errors). */
  endpointName?: string;
  /** The request's CloudEvents id: the reply names it (AMQP `correlation-id`, CloudEvents `causationid`). */
  requestId: string;
  /** The query type. */
  type: string;
  /** The encoded CloudEvents request. */
  body: string;
  /** How long the caller waits: a broker may drop the request after that (message TTL). */
  timeoutMs: number;
  /** When the caller stops waiting (epoch ms): the request expires then. */
  deadline: number;
  /** Whether the caller still waits: a request it gave up on is not sent. */
  isPending(): boolean;
}

/** Where a transport hands what happens to requests sent by this service. */
export interface ReplySink {
  /** A reply arrived for `requestId` (undefined when the reply names none). */
  reply(body: Buffer | string, requestId: string | undefined): void;
  /** The broker returned request `requestId`: no queue of its endpoint exists. */
  noResponder(requestId: string): void;
  /** Replies to every request sent so far can no longer arrive (channel or connection lost). */
  lost(reason: string): void;
}

/**
 * Answers one request body with a reply body (never rejects). `redelivered`: the request came back
 * after another instance took it and stopped before answering: it is not run again.
 */
export type RequestAnswerer = (body: Buffer | string, redelivered: boolean) => Promise<string>;

/**
 * The request/reply side of a transport, for routed queries: RabbitMQ (direct reply-to) and in
 * memory. Requests are not persisted and never re-sent.
 */
export interface RequestReplyTransport {
  /** Starts receiving replies to this service's requests. */
  startClient(sink: ReplySink): Promise<void>;
  /** Sends one request; rejects when it cannot be sent (e.g. `NoResponderError`). */
  send(request: OutgoingRequest): Promise<void>;
  /** Starts answering requests on this service's query queue (competing consumers among instances). */
  respond(answer: RequestAnswerer, concurrency: number): Promise<void>;
  /** Stops answering (in-flight answers finish, up to `drainTimeoutMs`) and receiving replies. */
  close(drainTimeoutMs: number): Promise<void>;
}

/** Name of the subscriber (and queue suffix) that receives a service's routed commands. */
export const COMMANDS_SUBSCRIBER = 'commands';
/** Queue suffix of a service's routed queries. */
export const QUERIES_QUEUE = 'queries';
/** CloudEvents `type` of every reply to a routed query. */
export const REPLY_TYPE = 'messaging.reply';
/** CloudEvents extension attribute of a reply: `ok` (data = the result) or `error` (data = `{ name, message, stack? }`). */
export const REPLY_STATUS = 'replystatus';
