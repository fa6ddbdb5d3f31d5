import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { currentMessageContext } from '../context/message-context';
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

  /** A new envelope for `data`. */
  create<T>(type: string, version: number, data: T, options?: SendOptions): MessageEnvelope<T> {
    const ctx = currentMessageContext();
    const now = Date.now();
    const id = uuidv7At(now);
    let correlationId = ctx?.correlationId ?? id;
    let headers = NO_HEADERS;
    let partitionKey: string | undefined;
    if (options !== undefined) {
      if (options.correlationId !== undefined) {
        if (!isValidIdValue(options.correlationId)) {
          throw new InvalidConfigurationError('correlationId must be 1 to 200 printable ASCII characters without spaces');
        }
        correlationId = options.correlationId;
      }
      if (options.partitionKey !== undefined) {
        if (!isValidIdValue(options.partitionKey)) {
          throw new InvalidConfigurationError('partitionKey must be 1 to 200 printable ASCII characters without spaces');
        }
        partitionKey = options.partitionKey;
      }
      if (options.headers !== undefined) headers = checkHeaders(options.headers);
    }
    return {
      id,
      type,
      version,
      time: this.isoTime(now),
      source: this.source,
      correlationId,
      causationId: ctx?.message?.id,
      traceparent: this.traceparent(),
      partitionKey,
      headers,
      data,
    };
  }

  private isoTime(ms: number): string {
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTime = new Date(ms).toISOString();
    }
    return this.lastTime;
  }
}

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
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
