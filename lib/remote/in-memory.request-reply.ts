import type { InMemoryBroker } from '../transport/in-memory/in-memory.broker';
import { NoResponderError, QueryInterruptedError } from '../errors/remote-query.errors';
import type { OutgoingRequest, ReplySink, RequestAnswerer, RequestReplyTransport } from './request-reply.interface';

/** One app instance answering an endpoint's queries. */
interface Responder {
  answer: RequestAnswerer;
  concurrency: number;
  inFlight: number;
  waiting: Array<() => void>;
}

/** The responders of each endpoint, per shared broker (app instances in one process). */
const responders = new WeakMap<InMemoryBroker, Map<string, Responder[]>>();

function endpointsOf(broker: InMemoryBroker): Map<string, Responder[]> {
  let map = responders.get(broker);
  if (map === undefined) responders.set(broker, (map = new Map()));
  return map;
}

/**
 * Request/reply in process, over the `InMemoryBroker` the app instances share (option
 * `inMemory.broker`): a request goes to one instance of its endpoint (round robin), its reply
 * back to the sender, both as encoded strings as on a broker. No instance of the endpoint:
 * `NoResponderError` at once.
 */
export class InMemoryRequestReply implements RequestReplyTransport {
  private sink?: ReplySink;
  private responder?: Responder;
  private next = 0;
  private closed = false;

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly endpoint: string,
  ) {}

  async startClient(sink: ReplySink): Promise<void> {
    this.sink = sink;
  }

  async send(request: OutgoingRequest): Promise<void> {
    const name = request.endpointName ?? request.endpoint;
    if (this.closed) throw new QueryInterruptedError(name, request.type, 'the transport is closed', request.endpoint);
    const list = endpointsOf(this.broker).get(request.endpoint);
    if (list === undefined || list.length === 0) throw new NoResponderError(name, request.type, request.endpoint);
    const responder = list[this.next++ % list.length];
    const sink = this.sink;
    // as on a broker: the answer comes later, never in the caller's own call stack
    setImmediate(() => {
      if (!request.isPending()) return; // the caller gave up meanwhile: not run after all
      void this.answerOn(responder, request.body).then((reply) => sink?.reply(reply, request.requestId));
    });
  }

  /** Runs `answer` within the responder's concurrency (requests beyond it wait their turn). */
  private async answerOn(responder: Responder, body: string): Promise<string> {
    while (responder.inFlight >= responder.concurrency) await new Promise<void>((r) => responder.waiting.push(r));
    responder.inFlight++;
    try {
      return await responder.answer(body, false);
    } finally {
      responder.inFlight--;
      responder.waiting.shift()?.();
    }
  }

  async respond(answer: RequestAnswerer, concurrency: number): Promise<void> {
    const map = endpointsOf(this.broker);
    const list = map.get(this.endpoint) ?? [];
    this.responder = { answer, concurrency, inFlight: 0, waiting: [] };
    list.push(this.responder);
    map.set(this.endpoint, list);
  }

  async close(drainTimeoutMs: number): Promise<void> {
    this.closed = true;
    const responder = this.responder;
    if (responder !== undefined) {
      const list = endpointsOf(this.broker).get(this.endpoint);
      const i = list?.indexOf(responder) ?? -1;
      if (i >= 0) list!.splice(i, 1);
      const deadline = Date.now() + drainTimeoutMs;
      while (responder.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    this.sink = undefined;
  }
}
