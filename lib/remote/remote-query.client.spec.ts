import { EnvelopeFactory } from '../message/envelope.factory';
import { MalformedMessageError } from '../errors/malformed-message.error';
import {
  NoResponderError,
  QueryInterruptedError,
  RemoteHandlerError,
  ReplyTooLargeError,
} from '../errors/remote-query.errors';
import { RemoteQueryClient } from './remote-query.client';
import { decodeReply, encodeReply } from './reply.codec';
import type { OutgoingRequest, RequestReplyTransport } from './request-reply.interface';

/** A transport that records requests and lets the test answer them (the client's other side). */
class ScriptedTransport implements RequestReplyTransport {
  readonly sent: OutgoingRequest[] = [];
  refuse?: Error;
  async startClient(): Promise<void> {}
  async send(request: OutgoingRequest): Promise<void> {
    if (this.refuse) throw this.refuse;
    this.sent.push(request);
  }
  async respond(): Promise<void> {}
  async close(): Promise<void> {}
}

const options = { routes: [], endpoints: {}, queryTimeoutMs: 60_000, maxReplyBytes: 512, sendErrorStack: false };
const envelopes = new EnvelopeFactory('caller');

function setup() {
  const transport = new ScriptedTransport();
  const client = new RemoteQueryClient(transport, options);
  const ask = () => {
    const envelope = envelopes.create('stock.Get', 1, { sku: 'a' });
    return { envelope, result: client.request('stock', envelope, undefined).catch((e: unknown) => e) };
  };
  return { transport, client, ask };
}

describe('RemoteQueryClient and the reply codec', () => {
  it('resolves to the result of the reply that names its request, and settles each call once', async () => {
    const { client, ask } = setup();
    const { envelope, result } = ask();
    const reply = encodeReply('stock', envelope, { ok: true, result: { available: 3 } });
    client.reply(reply, envelope.id);
    client.reply(reply, envelope.id);
    await expect(result).resolves.toEqual({ available: 3 });
    expect(client.strayReplies).toBe(1);
    expect(client.inFlight).toBe(0);
  });

  it('takes the kind of failure from replystatus, never from the remote error name', async () => {
    const { client, ask } = setup();
    const asked = [ask(), ask(), ask()];
    const [handlerOwn, interrupted, tooLarge] = asked;
    // a handler whose own query to a third service was interrupted: still that handler's error
    const named = { name: 'QueryInterruptedError', message: 'its own hop failed' };
    client.reply(encodeReply('stock', handlerOwn.envelope, { ok: false, error: named }), handlerOwn.envelope.id);
    client.reply(
      encodeReply('stock', interrupted.envelope, { ok: false, error: named, status: 'interrupted' }),
      interrupted.envelope.id,
    );
    client.reply(
      encodeReply('stock', tooLarge.envelope, {
        ok: false,
        error: { name: 'Whatever', message: 'over the limit' },
        status: 'too-large',
      }),
      tooLarge.envelope.id,
    );
    expect(await handlerOwn.result).toBeInstanceOf(RemoteHandlerError);
    expect(await interrupted.result).toBeInstanceOf(QueryInterruptedError);
    expect(await tooLarge.result).toBeInstanceOf(ReplyTooLargeError);
  });

  it('tells the transport whether the caller still waits, so a request it gave up on is not sent late', async () => {
    const { client, transport, ask } = setup();
    const { envelope, result } = ask();
    const [request] = transport.sent;
    expect(request.isPending()).toBe(true);
    expect(request.deadline - Date.now()).toBeGreaterThan(options.queryTimeoutMs - 5_000);
    client.lost('the channel closed');
    await expect(result).resolves.toBeInstanceOf(QueryInterruptedError);
    expect(request.isPending()).toBe(false);
    void envelope;
  });

  it('turns an error reply into RemoteHandlerError with the remote name and message', async () => {
    const { client, ask } = setup();
    const { envelope, result } = ask();
    client.reply(
      encodeReply('stock', envelope, { ok: false, error: { name: 'GoneError', message: 'gone' } }),
      envelope.id,
    );
    const error = (await result) as RemoteHandlerError;
    expect(error).toBeInstanceOf(RemoteHandlerError);
    expect([error.remoteName, error.remoteMessage, error.endpoint, error.messageType]).toEqual([
      'GoneError',
      'gone',
      'stock',
      'stock.Get',
    ]);
  });

  it('refuses a reply over maxReplyBytes on the caller’s side, and a malformed reply', async () => {
    const { client, ask } = setup();
    const big = ask();
    client.reply(encodeReply('stock', big.envelope, { ok: true, result: 'x'.repeat(600) }), big.envelope.id);
    expect(await big.result).toBeInstanceOf(ReplyTooLargeError);
    const bad = ask();
    client.reply('{"not":"a cloudevent"}', bad.envelope.id);
    expect(await bad.result).toBeInstanceOf(MalformedMessageError);
  });

  it('reports no responder, a refused send, a lost channel and shutdown as typed errors', async () => {
    const { client, transport, ask } = setup();
    const returned = ask();
    client.noResponder(returned.envelope.id);
    expect(await returned.result).toBeInstanceOf(NoResponderError);
    transport.refuse = new Error('socket closed');
    const refused = ask();
    expect(await refused.result).toBeInstanceOf(QueryInterruptedError);
    transport.refuse = undefined;
    const lost = ask();
    client.lost('channel closed');
    expect(await lost.result).toBeInstanceOf(QueryInterruptedError);
    const pending = ask();
    client.close();
    expect(await pending.result).toBeInstanceOf(QueryInterruptedError);
    expect(await ask().result).toBeInstanceOf(QueryInterruptedError);
  });

  it('encodes replies as CloudEvents with the documented reply fields', () => {
    const request = envelopes.create('stock.Get', 1, {});
    const body = JSON.parse(encodeReply('stock', request, { ok: true, result: undefined })) as Record<string, unknown>;
    expect(body).toMatchObject({
      specversion: '1.0',
      type: 'messaging.reply',
      source: 'stock',
      causationid: request.id,
      correlationid: request.correlationId,
      replystatus: 'ok',
      data: null,
    });
    expect(() => decodeReply(JSON.stringify({ ...body, replystatus: 'maybe' }))).toThrow(/replystatus/);
    expect(() => decodeReply(JSON.stringify({ ...body, type: 'OrderPlaced' }))).toThrow(/messaging\.reply/);
    expect(() => decodeReply(JSON.stringify({ ...body, replystatus: 'error', data: { name: 1 } }))).toThrow(
      /name, message/,
    );
  });
});
