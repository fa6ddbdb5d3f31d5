/**
 * Contract cases of commands and queries across services, run by `runTransportContract` for every
 * transport: a command routed to another service reaches that service's `commands` queue only, and
 * request/reply (`requestReplyFor`) carries a request to one responder of its endpoint and the reply
 * back by request id, or reports that nobody answers.
 */
import type {
  DeliveryHandler,
  InboundMessage,
  MessageTransport,
  OutboundMessage,
  SubscriberDescriptor,
} from '../../lib/transport/transport.interface';
import { decodeEnvelope, encodeEnvelope } from '../../lib/message/cloudevents.codec';
import { NoResponderError } from '../../lib/errors/remote-query.errors';
import { requestReplyFor } from '../../lib/remote/request-reply.factory';
import type { ReplySink, RequestReplyTransport } from '../../lib/remote/request-reply.interface';
import { waitFor } from '../setup/wait';

/** What the transport contract suite lends these cases. */
export interface RemoteContractTools {
  service(): string;
  connect(serviceName: string): Promise<MessageTransport>;
  message(serviceName: string, type: string, data: unknown, extra?: Partial<OutboundMessage>): OutboundMessage;
  recorder(): { received: InboundMessage[]; handler: DeliveryHandler };
  within(): number;
}

const descriptor = (name: string, types: string[]): SubscriberDescriptor => ({
  name,
  types,
  concurrency: 10,
  retryDelaysMs: [50],
});

/** A sink that records replies and no-responder reports. */
function sink(): ReplySink & {
  replies: Array<{ body: string; requestId?: string }>;
  missing: string[];
  lostWhy: string[];
} {
  const s = {
    replies: [] as Array<{ body: string; requestId?: string }>,
    missing: [] as string[],
    lostWhy: [] as string[],
    reply: (body: Buffer | string, requestId: string | undefined) =>
      s.replies.push({ body: body.toString(), requestId }),
    noResponder: (requestId: string) => s.missing.push(requestId),
    lost: (reason: string) => s.lostWhy.push(reason),
  };
  return s;
}

export function runRemoteContract(tools: () => RemoteContractTools): void {
  it('delivers a command routed to another service to that service’s commands queue only', async () => {
    const { service, connect, message, recorder, within } = tools();
    const sender = service();
    const receiver = service();
    const a = await connect(sender);
    const b = await connect(receiver);
    const commands = recorder();
    const audit = recorder();
    const own = recorder();
    // a commands queue is bound to nothing (MessagingRuntime): an event of a command's type never reaches it
    await b.subscribe(descriptor('commands', []), commands.handler);
    await b.subscribe(descriptor('audit', ['contract.Ship']), audit.handler);
    await a.subscribe(descriptor('commands', []), own.handler);
    const sent = message(sender, 'contract.Ship', { n: 1 }, { destination: 'commands', endpoint: receiver });
    await a.publish(sent);
    await waitFor(() => commands.received.length === 1, 'the routed command', within());
    expect(decodeEnvelope(commands.received[0].body).id).toBe(sent.envelope.id);
    // an event of the same type behind it, as a barrier: by then a stray copy of the command would have arrived too
    await a.publish(message(sender, 'contract.Ship', { n: 2 }));
    await waitFor(() => audit.received.length === 1, 'the event copy', within());
    expect((decodeEnvelope(audit.received[0].body).data as { n: number }).n).toBe(2);
    expect(commands.received.length).toBe(1);
    expect(own.received.length).toBe(0);
  });

  it('carries a request to a responder of its endpoint and the reply back by request id; reports no responder', async () => {
    const { service, connect, message, within } = tools();
    const caller = service();
    const answerer = service();
    const a = await connect(caller);
    const b = await connect(answerer);
    const client = requestReplyFor(a, caller);
    const server = requestReplyFor(b, answerer);
    const opened: RequestReplyTransport[] = [client, server];
    try {
      const replies = sink();
      await client.startClient(replies);
      await server.respond(async (body, redelivered) => {
        const request = decodeEnvelope(body);
        const reply = message(answerer, 'messaging.reply', { echo: request.data, redelivered });
        reply.envelope.causationId = request.id;
        return encodeEnvelope(reply.envelope);
      }, 4);
      const request = message(caller, 'contract.Ask', { q: 'stock?' });
      await client.send({
        endpoint: answerer,
        requestId: request.envelope.id,
        type: 'contract.Ask',
        body: request.body,
        timeoutMs: within(),
        deadline: Date.now() + within(),
        isPending: () => true,
      });
      await waitFor(() => replies.replies.length === 1, 'the reply', within());
      expect(replies.replies[0].requestId).toBe(request.envelope.id);
      expect(decodeEnvelope(replies.replies[0].body).data).toEqual({ echo: { q: 'stock?' }, redelivered: false });

      const orphan = message(caller, 'contract.Ask', { q: 'anyone?' });
      const rejected = await client
        .send({
          endpoint: `${answerer}-none`,
          requestId: orphan.envelope.id,
          type: 'contract.Ask',
          body: orphan.body,
          timeoutMs: within(),
          deadline: Date.now() + within(),
          isPending: () => true,
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      if (rejected === undefined)
        await waitFor(() => replies.missing.length === 1, 'the no-responder report', within());
      else expect(rejected).toBeInstanceOf(NoResponderError);
      if (rejected === undefined) expect(replies.missing).toEqual([orphan.envelope.id]);
      expect(replies.replies.length).toBe(1);
    } finally {
      for (const rr of opened) await rr.close(1000);
    }
  });
}
