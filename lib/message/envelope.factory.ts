import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { currentMessageContext, type MessageContextState } from '../context/message-context';
import { isValidExtensionName, isValidIdValue } from './cloudevents.codec';
import type { MessageEnvelope } from './envelope';
import { uuidv7At } from './uuid-v7';

/** Per-send options that shape the envelope. */
export interface SendOptions {
  /** Start or join this correlation instead of the current one. 1-200 printable ASCII characters. */
  correlationId?: string;
  /** Extension headers (lowercase letters and digits for names, string values). */
  headers?: Record<string, string>;
  /** Ordering key (aggregate id): messages with one key leave the outbox in commit order. */
  partitionKey?: string;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * Creates envelopes: a new UUID v7, the time, this service as source, and the correlation
 * inherited from the message being handled (whose id becomes the causation id).
 */
export class EnvelopeFactory {
  /** `toISOString()` is costly; many messages share one millisecond. */
  private lastMs = -1;
  private lastTime = '';

  constructor(
    private readonly source: string,
    /** Returns the W3C traceparent of the active span, if tracing is on. */
    private readonly traceparent: () => string | undefined = () => undefined,
  ) {}

  /** A new envelope for `data`, id and time made now (events: they are encoded right away). */
  create<T>(type: string, version: number, data: T, options?: SendOptions): MessageEnvelope<T> {
    const ctx = currentMessageContext();
    // Read what comes from the context first: a command's lazy id is then made before this one.
    const correlationId = correlationOf(ctx, options);
    const causationId = ctx?.message?.id;
    const now = Date.now();
    const id = uuidv7At(now);
    return {
      id,
      type,
      version,
      time: this.isoTime(now),
      source: this.source,
      correlationId: correlationId ?? id,
      causationId,
      traceparent: this.traceparent(),
      partitionKey: partitionKeyOf(options),
      headers: headersOf(options),
      data,
    };
  }

  /** A new envelope for a command or query, whose id and time are made on first read (see `RequestEnvelope`). */
  createRequest<T>(
    type: string,
    version: number,
    data: T,
    options?: SendOptions,
    ctx: MessageContextState | undefined = currentMessageContext(),
  ): RequestEnvelope<T> {
    return new RequestEnvelope(
      this,
      type,
      version,
      this.source,
      correlationOf(ctx, options),
      ctx?.message?.id,
      this.traceparent(),
      partitionKeyOf(options),
      headersOf(options),
      data,
    );
  }

  /** @internal `ms` as ISO-8601 UTC. */
  isoTime(ms: number): string {
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = new Date(ms).toISOString();
    }
    return this.lastTime;
  }
}

/**
 * The envelope of a command or query. Most are never looked at (nothing reads
 * `MessageContext.messageId` and the handler publishes nothing), so the UUID v7 `id` and the ISO
 * `time` are made on first read, from one clock reading taken then: usually at the start of the
 * handler, microseconds after the dispatch (a handler that awaits first and then publishes gives its
 * events a causation id made at that moment). Reading the clock costs more here than the rest of a
 * dispatch. `correlationId`, when the message starts a new flow, is its `id` (made on first read too).
 *
 * `id`, `time` and `correlationId` are accessors on the prototype: `JSON.stringify` and
 * `console.log` get them through `toJSON()`, but object spread (`{ ...envelope }`),
 * `Object.keys` and `structuredClone` leave them out.
 * @internal
 */
export class RequestEnvelope<T = unknown> implements MessageEnvelope<T> {
  readonly #factory: EnvelopeFactory;
  /** `Date.now()` at the first read of `id` or `time`. */
  #createdAt: number | undefined;
  #id: string | undefined;
  #time: string | undefined;
  /** Undefined until read when the message starts a new flow (then it is the id). */
  #correlationId: string | undefined;
  // declared optional as in MessageEnvelope (consumers compile with exactOptionalPropertyTypes)
  causationId?: string;
  traceparent?: string;
  partitionKey?: string;

  constructor(
    factory: EnvelopeFactory,
    public type: string,
    public version: number,
    public source: string,
    correlationId: string | undefined,
    causationId: string | undefined,
    traceparent: string | undefined,
    partitionKey: string | undefined,
    public headers: Record<string, string>,
    public data: T,
  ) {
    this.causationId = causationId;
    this.traceparent = traceparent;
    this.partitionKey = partitionKey;
    this.#factory = factory;
    this.#createdAt = undefined;
    this.#id = undefined;
    this.#time = undefined;
    this.#correlationId = correlationId;
  }

  /** The clock reading that `id` and `time` share. */
  #clock(): number {
    return (this.#createdAt ??= Date.now());
  }

  get id(): string {
    return (this.#id ??= uuidv7At(this.#clock()));
  }
  set id(value: string) {
    this.#id = value;
  }

  get time(): string {
    return (this.#time ??= this.#factory.isoTime(this.#clock()));
  }
  set time(value: string) {
    this.#time = value;
  }

  get correlationId(): string {
    return (this.#correlationId ??= this.id);
  }
  set correlationId(value: string) {
    this.#correlationId = value;
  }

  /** Whether the correlation id is still to be made, i.e. the message starts a new flow. */
  startsNewFlow(): boolean {
    return this.#correlationId === undefined;
  }

  /** What `console.log` / `util.inspect` show: the plain copy. */
  [Symbol.for('nodejs.util.inspect.custom')](): MessageEnvelope<T> {
    return this.toJSON();
  }

  /** A plain copy (also what `JSON.stringify` writes). */
  toJSON(): MessageEnvelope<T> {
    return {
      id: this.id,
      type: this.type,
      version: this.version,
      time: this.time,
      source: this.source,
      correlationId: this.correlationId,
      causationId: this.causationId,
      traceparent: this.traceparent,
      partitionKey: this.partitionKey,
      headers: this.headers,
      data: this.data,
    };
  }
}

/** The correlation a new message joins: `options.correlationId`, else the current one, else none (a new flow). */
function correlationOf(ctx: MessageContextState | undefined, options: SendOptions | undefined): string | undefined {
  const requested = options?.correlationId;
  if (requested === undefined) return ctx?.correlationId;
  if (!isValidIdValue(requested)) {
    throw new InvalidConfigurationError('correlationId must be 1 to 200 printable ASCII characters without spaces');
  }
  return requested;
}

function partitionKeyOf(options: SendOptions | undefined): string | undefined {
  const key = options?.partitionKey;
  if (key !== undefined && !isValidIdValue(key)) {
    throw new InvalidConfigurationError('partitionKey must be 1 to 200 printable ASCII characters without spaces');
  }
  return key;
}

function headersOf(options: SendOptions | undefined): Record<string, string> {
  return options?.headers === undefined ? NO_HEADERS : checkHeaders(options.headers);
}

/** Extension headers per message at most (the CloudEvents decoder refuses more). */
const MAX_HEADERS = 50;

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) {
    throw new InvalidConfigurationError(`at most ${MAX_HEADERS} headers per message, got ${entries.length}`);
  }
  for (const [name, value] of entries) {
    if (!isValidExtensionName(name)) {
      throw new InvalidConfigurationError(
        `header "${name}" is not a valid CloudEvents extension name (1-20 lowercase letters and digits, not a reserved attribute)`,
      );
    }
    if (typeof value !== 'string' || value.length > 4096) {
      throw new InvalidConfigurationError(`header "${name}" must be a string of at most 4096 characters`);
    }
    out[name] = value;
  }
  return out;
}
