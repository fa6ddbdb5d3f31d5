import type { Message, MessageProperties, Options } from 'amqplib';
import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import { CLOUDEVENTS_CONTENT_TYPE, decodeEnvelope } from '../../message/cloudevents.codec';
import type { MessageEnvelope } from '../../message/envelope';
import type { DeliveryOutcome, OutboundMessage } from '../transport.interface';
import { encodedValueSize, truncateUtf8 } from './amqp-table.util';
import { INTERNAL_HEADERS, RABBITMQ_HEADERS as H, TRANSIENT_HEADERS } from './rabbitmq.naming';

/** Bytes of an error message / stack kept in the reason headers (ours stay under ~7 KB in all). */
const MAX_ERROR_MESSAGE_BYTES = 2_048;
const MAX_STACK_BYTES = 4_096;
const STACK_LINES = 12;
/**
 * Encoded bytes of foreign headers (not ours) carried into a retry, dead letter or replay. Headers
 * over it are left out and listed in `x-messaging-headers-dropped`, so a message whose headers are
 * near the 64 KiB encoding limit can still be retried and dead-lettered with our headers added.
 */
export const CARRIED_HEADERS_BUDGET_BYTES = 16_384;
const MAX_DROPPED_NOTE_BYTES = 1_024;

/** A value fit for an AMQP short string property (≤ 255 bytes), else undefined. */
function short(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= 255 ? value : undefined;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

/** First lines of a stack trace, bounded. */
export function stackHead(stack: string | undefined): string | undefined {
  return stack === undefined
    ? undefined
    : truncateUtf8(stack.split('\n').slice(0, STACK_LINES).join('\n'), MAX_STACK_BYTES);
}

/** AMQP properties of a message published by `publish()`: identity mirrored from the envelope. */
export function outboundProperties(message: OutboundMessage): Options.Publish {
  const e = message.envelope;
  // carried headers first: the library's own never come from them (they were left out when carried)
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message.carriedHeaders ?? {})) {
    if (!INTERNAL_HEADERS.includes(name) || name === H.headersDropped) headers[name] = value;
  }
  if (message.attempt !== undefined) headers[H.attempt] = message.attempt;
  if (message.firstFailureAt !== undefined) headers[H.firstFailureAt] = message.firstFailureAt;
  const time = Date.parse(e.time);
  return {
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    messageId: short(e.id),
    correlationId: short(e.correlationId),
    type: short(e.type),
    appId: short(e.source),
    timestamp: Number.isNaN(time) ? undefined : Math.floor(time / 1000),
    headers,
  };
}

/** The delivery attempt carried in our header (1 when absent or unreadable). */
export function readAttempt(headers: Record<string, unknown>): number {
  const raw = headers[H.attempt];
  const n = typeof raw === 'number' ? raw : Number(str(raw));
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** The first-failure time carried in our header. */
export function readFirstFailureAt(headers: Record<string, unknown>): string | undefined {
  return str(headers[H.firstFailureAt]);
}

type CarriedProperties = Options.Publish & { headers: Record<string, unknown> };

/**
 * Original properties of a delivery, without the headers of its previous lives; foreign headers
 * within {@link CARRIED_HEADERS_BUDGET_BYTES} (in order), the others noted in `x-messaging-headers-dropped`.
 * `keepHeaders: false` keeps none (the minimal properties of a dead letter that could not be published otherwise).
 */
function carriedProperties(properties: MessageProperties, keepHeaders = true): CarriedProperties {
  const headers: Record<string, unknown> = {};
  const dropped: string[] = [];
  let droppedBytes = 0;
  let used = 0;
  const previous = str(properties.headers?.[H.headersDropped]);
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    if (value === undefined || TRANSIENT_HEADERS.includes(name) || name === H.headersDropped) continue;
    const size = 1 + Buffer.byteLength(name) + encodedValueSize(value);
    if (keepHeaders && used + size <= CARRIED_HEADERS_BUDGET_BYTES) {
      headers[name] = value;
      used += size;
    } else {
      dropped.push(name);
      droppedBytes += size;
    }
  }
  if (dropped.length > 0) {
    const note = `${dropped.length} header(s), ${droppedBytes} bytes: ${dropped.join(', ')}`;
    headers[H.headersDropped] = truncateUtf8(previous ? `${note}; before: ${previous}` : note, MAX_DROPPED_NOTE_BYTES);
  } else if (previous) {
    headers[H.headersDropped] = truncateUtf8(previous, MAX_DROPPED_NOTE_BYTES);
  }
  return {
    contentType: short(properties.contentType),
    contentEncoding: short(properties.contentEncoding),
    messageId: short(properties.messageId),
    correlationId: short(properties.correlationId),
    type: short(properties.type),
    appId: short(properties.appId),
    timestamp: typeof properties.timestamp === 'number' ? properties.timestamp : undefined,
    headers,
  };
}

/** The headers a retry of a delivery carries: foreign ones within the budget, and the note of the rest. */
export function carriedHeaders(properties: MessageProperties): Record<string, unknown> {
  return carriedProperties(properties).headers;
}

/** Properties of a retry of `delivery`, scheduled at `delayLevelMs`. */
export function retryProperties(
  delivery: Message,
  outcome: Extract<DeliveryOutcome, { status: 'retry' }>,
  delayLevelMs: number,
): Options.Publish {
  const props = carriedProperties(delivery.properties);
  props.headers[H.attempt] = outcome.nextAttempt;
  props.headers[H.firstFailureAt] = outcome.firstFailureAt;
  props.headers[H.lastError] = truncateUtf8(`${outcome.error.name}: ${outcome.error.message}`, 1_000);
  if (delayLevelMs > 0) props.headers[H.delay] = String(delayLevelMs);
  return props;
}

/** Everything recorded with a dead letter besides the message itself (a part of `DeadLetter`). */
export type DeadLetterFacts = Pick<
  DeadLetter,
  'id' | 'subscriber' | 'sourceQueue' | 'error' | 'attempts' | 'firstFailureAt' | 'lastFailureAt' | 'deadLetteredAt'
>;

/**
 * Properties of a dead letter: the original ones (foreign headers within the budget) plus the
 * reason headers. `minimal` keeps no foreign header at all: the fallback when the full properties
 * could not be published (e.g. headers too large to encode).
 */
export function deadLetterProperties(delivery: Message, facts: DeadLetterFacts, minimal = false): Options.Publish {
  const props = carriedProperties(delivery.properties, !minimal);
  Object.assign(props.headers, {
    [H.deadLetterId]: facts.id,
    [H.errorName]: truncateUtf8(facts.error.name, 200),
    [H.errorMessage]: truncateUtf8(facts.error.message, MAX_ERROR_MESSAGE_BYTES),
    [H.subscriber]: truncateUtf8(facts.subscriber, 255),
    [H.sourceQueue]: truncateUtf8(facts.sourceQueue, 255),
    [H.attempts]: facts.attempts,
    [H.firstFailureAt]: facts.firstFailureAt,
    [H.lastFailureAt]: facts.lastFailureAt,
    [H.deadLetteredAt]: facts.deadLetteredAt,
  });
  const stack = stackHead(facts.error.stack);
  if (stack) props.headers[H.errorStack] = stack;
  return props;
}

/**
 * Properties of a delivery that came back `redelivered`, published again to its own queue so the
 * extra attempt is recorded on the message: attempt and redelivery count raised, first failure set.
 */
export function redeliveryProperties(
  delivery: Message,
  attempt: number,
  redeliveries: number,
  firstFailureAt: string,
): Options.Publish {
  const props = carriedProperties(delivery.properties);
  props.headers[H.attempt] = attempt;
  props.headers[H.redeliveries] = redeliveries;
  props.headers[H.firstFailureAt] = truncateUtf8(firstFailureAt, 64);
  return props;
}

/**
 * Properties of a delivery given back unhandled (its handler never started: a shutdown came first),
 * published again to its own queue as it was: our own headers (attempt, first failure, redelivery
 * count, last error) unchanged, as far as `trusted` holds them (see `trustedHeaders`).
 */
export function returnProperties(delivery: Message, trusted: Record<string, unknown>): Options.Publish {
  const props = carriedProperties(delivery.properties);
  for (const name of [H.attempt, H.firstFailureAt, H.redeliveries, H.lastError]) {
    if (trusted[name] !== undefined) props.headers[name] = trusted[name];
  }
  return props;
}

/** How many times in a row the delivery came back redelivered (our header, 0 when absent). */
export function readRedeliveries(headers: Record<string, unknown>): number {
  const raw = headers[H.redeliveries];
  const n = typeof raw === 'number' ? raw : Number(str(raw));
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** Properties of a replayed dead letter: original properties, attempt 1, reason headers dropped. */
export function replayProperties(delivery: Message): Options.Publish {
  const props = carriedProperties(delivery.properties);
  props.headers[H.attempt] = 1;
  return props;
}

function tryDecode(body: Buffer | string): MessageEnvelope | undefined {
  try {
    return decodeEnvelope(body);
  } catch {
    return undefined;
  }
}

/** Builds the record of a dead letter; `envelope` skips decoding when the pipeline already did. */
export function toDeadLetter(
  body: Buffer,
  facts: DeadLetterFacts,
  envelope?: MessageEnvelope,
  properties?: MessageProperties,
): DeadLetter {
  const decoded = envelope ?? tryDecode(body);
  return {
    id: facts.id,
    messageId: decoded?.id ?? short(properties?.messageId),
    type: decoded?.type ?? short(properties?.type),
    envelope: decoded,
    body: body.toString('utf8'),
    subscriber: facts.subscriber,
    sourceQueue: facts.sourceQueue,
    error: facts.error,
    attempts: facts.attempts,
    firstFailureAt: facts.firstFailureAt,
    lastFailureAt: facts.lastFailureAt,
    deadLetteredAt: facts.deadLetteredAt,
  };
}

/** Reads a dead letter back from the dead-letter queue (tolerates missing headers). */
export function deadLetterFromMessage(msg: Message, fallbackId: () => string): DeadLetter {
  const h = msg.properties.headers ?? {};
  const deadLetteredAt = str(h[H.deadLetteredAt]) ?? new Date(0).toISOString();
  const attempts = Number(h[H.attempts]);
  return toDeadLetter(
    msg.content,
    {
      id: str(h[H.deadLetterId]) ?? short(msg.properties.messageId) ?? fallbackId(),
      subscriber: str(h[H.subscriber]) ?? '',
      sourceQueue: str(h[H.sourceQueue]) ?? '',
      error: {
        name: str(h[H.errorName]) ?? 'Error',
        message: str(h[H.errorMessage]) ?? '',
        stack: str(h[H.errorStack]),
      },
      attempts: Number.isInteger(attempts) ? attempts : 1,
      firstFailureAt: str(h[H.firstFailureAt]) ?? deadLetteredAt,
      lastFailureAt: str(h[H.lastFailureAt]) ?? deadLetteredAt,
      deadLetteredAt,
    },
    undefined,
    msg.properties,
  );
}

/**
 * The headers of a delivery as far as the library may believe them. Producers publish events to
 * the events exchange; the library's own retries, redeliveries, delayed retries and replays reach
 * a queue through the default exchange only. So on a delivery from the events exchange the
 * library's internal headers (attempt, first failure, redelivery count…) were written by somebody
 * else and are ignored: attempt 1, as for any first delivery.
 */
export function trustedHeaders(msg: Message, eventsExchange: string): Record<string, unknown> {
  const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
  if (msg.fields.exchange !== eventsExchange) return headers;
  let own: Record<string, unknown> | undefined;
  for (const name of INTERNAL_HEADERS) {
    if (name in headers) {
      own ??= { ...headers };
      delete own[name];
    }
  }
  return own ?? headers;
}
