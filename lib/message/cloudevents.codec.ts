import { isUtf8 } from 'node:buffer';
import { MalformedMessageError } from '../errors/malformed-message.error';
import type { MessageEnvelope } from './envelope';
import { isValidTypeName } from './message-type';

/** CloudEvents structured-mode content type. */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** Attribute names the codec owns; extension headers may not use them. */
const RESERVED = new Set([
  'specversion',
  'id',
  'type',
  'source',
  'time',
  'datacontenttype',
  'dataschema',
  'subject',
  'dataversion',
  'correlationid',
  'causationid',
  'traceparent',
  'tracestate',
  'partitionkey',
  'data',
  'data_base64',
]);

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
// printable ASCII, no spaces: safe for AMQP properties and log lines
const ID_VALUE = /^[\x21-\x7e]{1,200}$/;
const JSON_CONTENT_TYPE = /^application\/([a-z0-9.+-]*\+)?json(;.*)?$/i;
const MAX_HEADERS = 50;
const MAX_HEADER_VALUE = 4096;
/** Deepest nesting of objects and arrays accepted in a body. */
export const MAX_JSON_DEPTH = 64;

/**
 * Content types a structured CloudEvents body may arrive with (the AMQP `content-type` property):
 * `application/cloudevents+json` (what the library sends), `application/json`, each with an
 * optional `charset=utf-8`, or none at all.
 */
const ACCEPTED_CONTENT_TYPE = /^application\/(cloudevents\+)?json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * Throws `MalformedMessageError` when a transport's content type or encoding is not one the
 * structured CloudEvents decoder reads (see `ACCEPTED_CONTENT_TYPE`; no content encoding).
 */
export function checkContentType(contentType: string | undefined, contentEncoding?: string): void {
  if (contentEncoding !== undefined && contentEncoding !== '' && !/^(identity|utf-?8)$/i.test(contentEncoding)) {
    throw new MalformedMessageError(
      `content encoding ${JSON.stringify(contentEncoding.slice(0, 40))} is not supported (send the JSON body as is)`,
    );
  }
  if (contentType === undefined || contentType === '' || ACCEPTED_CONTENT_TYPE.test(contentType)) return;
  throw new MalformedMessageError(
    `content type ${JSON.stringify(contentType.slice(0, 80))} is not accepted: send ${CLOUDEVENTS_CONTENT_TYPE} ` +
      `(or application/json), UTF-8`,
  );
}

/** Throws when objects and arrays nest deeper than `MAX_JSON_DEPTH` (a scan of the text, strings skipped). */
function checkNesting(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new MalformedMessageError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
}

/** Whether `name` can be an extension attribute (CloudEvents: lowercase letters and digits). */
export function isValidExtensionName(name: string): boolean {
  return EXTENSION_NAME.test(name) && !RESERVED.has(name);
}

/** Whether `value` is acceptable as a message id, correlation id or causation id. */
export function isValidIdValue(value: unknown): value is string {
  return typeof value === 'string' && ID_VALUE.test(value);
}

/** Encodes an envelope as CloudEvents 1.0 structured JSON. */
export function encodeEnvelope(envelope: MessageEnvelope): string {
  const event = eventAttributes(envelope);
  event.data = envelope.data;
  return JSON.stringify(event);
}

/** The CloudEvents attributes of `envelope`, without `data`. */
function eventAttributes(envelope: MessageEnvelope): Record<string, unknown> {
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: envelope.id,
    type: envelope.type,
    source: envelope.source,
    time: envelope.time,
    datacontenttype: 'application/json',
    dataversion: envelope.version,
    correlationid: envelope.correlationId,
  };
  if (envelope.causationId !== undefined) event.causationid = envelope.causationId;
  if (envelope.traceparent !== undefined) event.traceparent = envelope.traceparent;
  if (envelope.partitionKey !== undefined) event.partitionkey = envelope.partitionKey;
  const headers = envelope.headers;
  for (const name in headers) {
    if (Object.prototype.hasOwnProperty.call(headers, name) && !RESERVED.has(name)) {
      event[name] = headers[name];
    }
  }
  return event;
}

function hasProtoKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > 64) throw new MalformedMessageError('JSON nested deeper than 64 levels');
  if (Array.isArray(value)) return value.some((v) => hasProtoKey(v, depth + 1));
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return true;
    if (hasProtoKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

function optionalString(event: Record<string, unknown>, name: string): string | undefined {
  const value = event[name];
  if (value === undefined || value === null) return undefined;
  if (!isValidIdValue(value)) {
    throw new MalformedMessageError(`attribute "${name}" must be 1 to 200 printable ASCII characters without spaces`);
  }
  return value;
}

/** The size of a message body in bytes (a string counts as UTF-8). */
export function bodyByteLength(body: Buffer | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
}

/**
 * Decodes and checks a CloudEvents structured JSON body. Throws `MalformedMessageError` with
 * the reason for anything that is not a well-formed event: not JSON, not an object, missing or
 * bad `id`/`type`/`specversion`, a non-JSON `datacontenttype`, a `__proto__` key anywhere,
 * ids with control characters or over 200 characters.
 */
export function decodeEnvelope(body: Buffer | string): MessageEnvelope {
  // Buffer#toString would quietly turn invalid bytes into U+FFFD: the handler would run on altered data
  if (typeof body !== 'string' && !isUtf8(body)) throw new MalformedMessageError('body is not valid UTF-8');
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.length === 0) throw new MalformedMessageError('empty body');
  checkNesting(text);
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (err) {
    // V8's message quotes part of the body: keep only the position, never content
    const at = /position \d+/.exec((err as Error).message)?.[0];
    throw new MalformedMessageError(`body is not JSON${at ? ` (at ${at})` : ''}`);
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new MalformedMessageError('body is not a JSON object');
  }
  // JSON.parse turns "__proto__" into an own property; a later merge could turn it into a
  // prototype change, so such a message is refused outright (escaped forms included).
  if ((text.includes('__proto__') || text.includes('\\u')) && hasProtoKey(event)) {
    throw new MalformedMessageError('forbidden key "__proto__"');
  }
  const e = event as Record<string, unknown>;
  if (e.specversion !== '1.0') throw new MalformedMessageError('specversion must be "1.0"');
  if (!isValidIdValue(e.id)) {
    throw new MalformedMessageError('missing or invalid "id" (1 to 200 printable ASCII characters)');
  }
  if (typeof e.type !== 'string' || !isValidTypeName(e.type)) {
    throw new MalformedMessageError('missing or invalid "type"');
  }
  if (typeof e.source !== 'string' || e.source.length === 0 || e.source.length > 500) {
    throw new MalformedMessageError('missing or invalid "source"');
  }
  const contentType = e.datacontenttype;
  if (
    contentType !== undefined &&
    contentType !== 'application/json' &&
    (typeof contentType !== 'string' || !JSON_CONTENT_TYPE.test(contentType))
  ) {
    throw new MalformedMessageError(`unsupported datacontenttype ${JSON.stringify(String(contentType)).slice(0, 80)}`);
  }
  let time: string;
  if (e.time === undefined) {
    time = new Date().toISOString();
  } else if (typeof e.time === 'string' && e.time.length <= 40 && !Number.isNaN(Date.parse(e.time))) {
    time = e.time;
  } else {
    throw new MalformedMessageError('"time" is not an RFC 3339 timestamp');
  }
  let version = 1;
  if (e.dataversion !== undefined) {
    const v = typeof e.dataversion === 'string' ? Number(e.dataversion) : e.dataversion;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) {
      throw new MalformedMessageError('"dataversion" must be a positive integer');
    }
    version = v;
  }
  const id = e.id;
  const correlationId = optionalString(e, 'correlationid') ?? id;
  const causationId = optionalString(e, 'causationid');
  const partitionKey = optionalString(e, 'partitionkey');
  const traceparent = typeof e.traceparent === 'string' && TRACEPARENT.test(e.traceparent) ? e.traceparent : undefined;
  const headers: Record<string, string> = {};
  let count = 0;
  for (const name of Object.keys(e)) {
    if (RESERVED.has(name) || !EXTENSION_NAME.test(name)) continue;
    const value = e[name];
    if (typeof value !== 'string') continue; // CloudEvents integer/boolean extensions: not carried
    if (value.length > MAX_HEADER_VALUE) {
      throw new MalformedMessageError(`extension attribute "${name}" is longer than ${MAX_HEADER_VALUE} characters`);
    }
    if (++count > MAX_HEADERS) throw new MalformedMessageError(`more than ${MAX_HEADERS} extension attributes`);
    headers[name] = value;
  }
  if (e.data_base64 !== undefined) throw new MalformedMessageError('binary data (data_base64) is not supported');
  return {
    id,
    type: e.type,
    version,
    time,
    source: e.source,
    correlationId,
    causationId,
    traceparent,
    partitionKey,
    headers,
    data: e.data === undefined ? {} : e.data,
  };
}
