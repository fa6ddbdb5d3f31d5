import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import { ManagedChannel } from '../transport/rabbitmq/managed.channel';
import { retryStartupStep } from '../transport/rabbitmq/startup-retry';
import { TransportNotConnectedError } from '../transport/rabbitmq/errors/transport-not-connected.error';
import { RabbitMqNaming } from '../transport/rabbitmq/rabbitmq.naming';
import type { RabbitMqTransport } from '../transport/rabbitmq/rabbitmq.transport';
import type { RabbitMqConnection } from '../transport/rabbitmq/rabbitmq.connection';
import { CLOUDEVENTS_CONTENT_TYPE } from '../message/cloudevents.codec';
import { QueryInterruptedError } from '../errors/remote-query.errors';
import { toErrorInfo } from '../errors/error-info';
import {
  QUERIES_QUEUE,
  type OutgoingRequest,
  type ReplySink,
  type RequestAnswerer,
  type RequestReplyTransport,
} from './request-reply.interface';

/** RabbitMQ's direct reply-to pseudo-queue: replies come back on the channel that sent the request. */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';
/**
 * A service's query queue goes away after this long without a consumer (`x-expires`), so requests to
 * a service that is gone are returned at once (`NoResponderError`) instead of waiting for their timeout.
 */
export const QUERY_QUEUE_EXPIRES_MS = 30_000;
/** How long starting the request/reply channels may take (the transport's own startup has passed by then). */
const STARTUP_MS = 30_000;

/** A short string fit for an AMQP property, else undefined. */
function shortString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= 255 ? value : undefined;
}

/**
 * Request/reply for routed queries over RabbitMQ. Requests: default exchange to
 * `<endpoint>.queries` (`mandatory`, not persistent, `expiration` = the caller's timeout,
 * `reply-to` `amq.rabbitmq.reply-to`, `correlation-id` = request id) on a channel that also consumes
 * the direct reply-to pseudo-queue. A returned request means no queue: `NoResponderError`. A lost
 * channel fails every pending request (`QueryInterruptedError`). Answers: a channel consumes
 * `<prefix>.queries` (prefetch = concurrency, acked after the reply is published); replies go out on
 * another channel to the request's `reply-to` with its `correlation-id`. All on a connection of its
 * own (role `requests`, Nagle off: each round trip waits for its frames; a memory alarm blocking
 * it stalls queries, never the event publisher or consumers).
 */
export class RabbitMqRequestReply implements RequestReplyTransport {
  private readonly logger = new Logger('MessagingRemote');
  private readonly connection: RabbitMqConnection;
  private readonly naming: RabbitMqNaming;
  private opened?: Promise<void>;
  private client?: ManagedChannel;
  private requests?: ManagedChannel;
  private replies?: ManagedChannel;
  private inFlight = 0;
  private consumerTag?: string;

  constructor(transport: RabbitMqTransport) {
    const { connection, naming } = transport.requestConnection();
    this.connection = connection;
    this.naming = naming;
  }

  /** Opens the connection once (both the client and the responder use it). */
  private open(): Promise<void> {
    return (this.opened ??= this.connection.open());
  }

  /**
   * Starts a channel, again after a failure a dropped connection caused (the broker closing
   * connections while the app starts), for up to `STARTUP_MS`; a refused declaration (a queue
   * declared with other arguments: PRECONDITION_FAILED) is thrown at once.
   */
  private startChannel(channel: ManagedChannel): Promise<void> {
    const until = Date.now() + STARTUP_MS;
    const what = 'request/reply channel';
    return retryStartupStep(
      {
        until,
        what,
        timeoutError: () => new TransportNotConnectedError(`${what}: did not start within ${STARTUP_MS} ms`),
        isFinal: (error) => /PRECONDITION_FAILED|ACCESS_REFUSED/.test(toErrorInfo(error).message),
        delayMs: 300,
        warn: (reason) => this.logger.warn(`${what} could not start (${this.connection.scrub(reason)}); trying again`),
      },
      () => channel.start(until),
    );
  }

  async startClient(sink: ReplySink): Promise<void> {
    await this.open();
    this.client = new ManagedChannel(
      this.connection,
      {
        name: 'query-client',
        confirm: false,
        reopenDelayMs: 200,
        setup: async (ch) => {
          ch.on('return', (msg: Message) => {
            const id = shortString(msg.properties.correlationId);
            if (id !== undefined) sink.noResponder(id);
          });
          ch.once('close', () => sink.lost('the channel carrying it closed (connection lost?)'));
          await ch.consume(
            DIRECT_REPLY_TO,
            (msg) => {
              if (msg) sink.reply(msg.content, shortString(msg.properties.correlationId));
            },
            { noAck: true },
          );
        },
      },
      this.logger,
    );
    await this.startChannel(this.client);
  }

  async send(request: OutgoingRequest): Promise<void> {
    const client = this.client;
    if (client === undefined) {
      const name = request.endpointName ?? request.endpoint;
      throw new QueryInterruptedError(name, request.type, 'no reply channel', request.endpoint);
    }
    const ch = await client.get(request.deadline, 'query');
    // the caller gave up meanwhile (timed out, connection lost): sent now, it would run after all
    const left = request.deadline - Date.now();
    if (!request.isPending() || left <= 0) return;
    const queue = new RabbitMqNaming(this.naming.eventsExchange, request.endpoint).subscriberQueue(QUERIES_QUEUE);
    ch.publish('', queue, Buffer.from(request.body, 'utf8'), {
      mandatory: true,
      persistent: false,
      replyTo: DIRECT_REPLY_TO,
      correlationId: request.requestId,
      messageId: request.requestId,
      type: shortString(request.type),
      expiration: String(Math.ceil(left)),
      contentType: CLOUDEVENTS_CONTENT_TYPE,
    });
  }

  async respond(answer: RequestAnswerer, concurrency: number): Promise<void> {
    await this.open();
    const queue = this.naming.subscriberQueue(QUERIES_QUEUE);
    this.replies = new ManagedChannel(
      this.connection,
      { name: 'query-replies', confirm: false, reopenDelayMs: 200, setup: async () => undefined },
      this.logger,
    );
    await this.startChannel(this.replies);
    this.requests = new ManagedChannel(
      this.connection,
      {
        name: QUERIES_QUEUE,
        confirm: false,
        reopenDelayMs: 200,
        setup: async (ch) => {
          await ch.assertQueue(queue, {
            durable: true,
            arguments: { 'x-queue-type': 'classic', 'x-expires': QUERY_QUEUE_EXPIRES_MS },
          });
          await ch.prefetch(concurrency);
          const { consumerTag } = await ch.consume(queue, (msg) => {
            // null: the broker cancelled the consumer (queue deleted, its node down): consume again
            // on a fresh channel, which declares the queue anew
            if (msg === null) this.requests?.recycle();
            else void this.onRequest(ch, msg, answer);
          });
          this.consumerTag = consumerTag;
        },
      },
      this.logger,
    );
    await this.startChannel(this.requests);
  }

  private async onRequest(ch: Channel, msg: ConsumeMessage, answer: RequestAnswerer): Promise<void> {
    this.inFlight++;
    try {
      const replyTo = shortString(msg.properties.replyTo);
      // only a direct reply-to address: any other name would make this service publish into that
      // queue (another service's commands queue, say)
      if (replyTo === undefined || !replyTo.startsWith(`${DIRECT_REPLY_TO}.`)) {
        this.logger.warn(
          `dropped a query request whose reply-to is not ${DIRECT_REPLY_TO} (${msg.content.length} bytes)`,
        );
        return;
      }
      const reply = await answer(msg.content, msg.fields.redelivered);
      const out = await this.replies!.get(Date.now() + 5_000, 'query reply');
      out.publish('', replyTo, Buffer.from(reply, 'utf8'), {
        correlationId: shortString(msg.properties.correlationId),
        contentType: CLOUDEVENTS_CONTENT_TYPE,
        persistent: false,
      });
    } catch (error) {
      this.logger.warn(`could not answer a query request: ${toErrorInfo(error).message}`);
    } finally {
      this.inFlight--;
      try {
        ch.ack(msg);
      } catch {
        // the channel closed meanwhile: the broker redelivers it, and a redelivered request is not run again
      }
    }
  }

  async close(drainTimeoutMs: number): Promise<void> {
    const requests = this.requests;
    const tag = this.consumerTag;
    if (requests?.channel !== undefined && tag !== undefined) {
      await requests.channel.cancel(tag).catch(() => undefined);
    }
    const deadline = Date.now() + drainTimeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await Promise.all([requests?.stop(), this.replies?.stop(), this.client?.stop()]);
    await this.connection.close();
  }
}
