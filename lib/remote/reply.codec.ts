import { encodeEnvelope, decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import { uuidv7 } from '../message/uuid-v7';
import { MalformedMessageError } from '../errors/malformed-message.error';
import type { ErrorInfo } from '../errors/error-info';
import { REPLY_STATUS, REPLY_TYPE } from './request-reply.interface';

/** What a reply says. */
export type DecodedReply =
  | { ok: true; result: unknown }
  | {
      ok: false;
      error: ErrorInfo;
      /**
       * `error`: the handler threw (whatever its error's name); `interrupted`: the responder did not
       * run it (a redelivered request); `too-large`: its result was over the responder's reply limit.
       * Set by the responder machinery only, never taken from an error's name.
       */
      status?: ErrorReplyStatus;
    };

/** The `replystatus` of a failed query. */
export type ErrorReplyStatus = 'error' | 'interrupted' | 'too-large';

const ERROR_STATUSES: readonly string[] = ['error', 'interrupted', 'too-large'];

/** Bounds of the error fields a reply carries. */
const MAX_NAME = 200;
const MAX_MESSAGE = 2_000;
const MAX_STACK = 4_000;

/**
 * Encodes a reply as CloudEvents: `type` `messaging.reply`, `causationid` = the request's id,
 * `correlationid` = the request's correlation, `replystatus` `ok` (data = result, `null` for
 * none) or `error` (data = `{ name, message, stack? }`).
 */
export function encodeReply(
  source: string,
  request: Pick<MessageEnvelope, 'id' | 'correlationId'> | undefined,
  reply: DecodedReply,
): string {
  const id = uuidv7();
  const envelope: MessageEnvelope = {
    id,
    type: REPLY_TYPE,
    version: 1,
    time: new Date().toISOString(),
    source,
    correlationId: request?.correlationId ?? id,
    causationId: request?.id,
    headers: { [REPLY_STATUS]: reply.ok ? 'ok' : (reply.status ?? 'error') },
    data: reply.ok ? (reply.result ?? null) : errorData(reply.error),
  };
  return encodeEnvelope(envelope);
}

function errorData(error: ErrorInfo): ErrorInfo {
  const out: ErrorInfo = { name: error.name.slice(0, MAX_NAME), message: error.message.slice(0, MAX_MESSAGE) };
  if (error.stack !== undefined) out.stack = error.stack.slice(0, MAX_STACK);
  return out;
}

/** Decodes a reply; throws `MalformedMessageError` for anything that is not one. */
export function decodeReply(body: Buffer | string): DecodedReply {
  const envelope = decodeEnvelope(body);
  if (envelope.type !== REPLY_TYPE) throw new MalformedMessageError(`a reply must have type "${REPLY_TYPE}"`);
  const status = envelope.headers[REPLY_STATUS];
  if (status === 'ok') return { ok: true, result: envelope.data };
  if (typeof status !== 'string' || !ERROR_STATUSES.includes(status)) {
    throw new MalformedMessageError(`a reply must have "${REPLY_STATUS}" "ok", "error", "interrupted" or "too-large"`);
  }
  const data = envelope.data as Partial<Record<keyof ErrorInfo, unknown>> | null;
  if (data === null || typeof data !== 'object' || typeof data.name !== 'string' || typeof data.message !== 'string') {
    throw new MalformedMessageError('an error reply must carry { name, message } strings');
  }
  const error: ErrorInfo = { name: data.name.slice(0, MAX_NAME), message: data.message.slice(0, MAX_MESSAGE) };
  if (typeof data.stack === 'string') error.stack = data.stack.slice(0, MAX_STACK);
  return { ok: false, error, status: status as ErrorReplyStatus };
}
