import 'reflect-metadata';
import { context, trace, SpanKind } from '@opentelemetry/api';
import type { TestingModule } from '@nestjs/testing';
import { CommandBus, CommandHandler, InMemoryBroker, Message, MessageContext, QueryBus, QueryHandler } from '../../lib';
import { AlsContextManager, RecordingTracerProvider } from '../monitoring/test-tracer';
import { waitFor } from '../setup/wait';
import { startService } from './remote-scenario';

@Message('traced.Pack', { endpoint: 'packing' })
class Pack {
  constructor(readonly n: number) {}
}

@Message('traced.Weigh', { endpoint: 'packing' })
class Weigh {
  constructor(readonly n: number) {}
}

const traceparents: Record<string, string | undefined> = {};

@CommandHandler(Pack)
class PackHandler {
  constructor(private readonly ctx: MessageContext) {}
  execute(): void {
    traceparents.command = this.ctx.message?.traceparent;
  }
}

@QueryHandler(Weigh)
class WeighHandler {
  constructor(private readonly ctx: MessageContext) {}
  execute(query: Weigh): number {
    traceparents.query = this.ctx.message?.traceparent;
    return query.n * 2;
  }
}

describe('commands and queries across services: traces propagate', () => {
  const provider = new RecordingTracerProvider();
  const apps: TestingModule[] = [];

  beforeAll(async () => {
    context.setGlobalContextManager(new AlsContextManager());
    trace.setGlobalTracerProvider(provider);
    const broker = new InMemoryBroker();
    apps.push(await startService({ serviceName: 'packing', inMemory: { broker } }, [PackHandler, WeighHandler]));
    apps.push(await startService({ serviceName: 'shop', inMemory: { broker } }, []));
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    trace.disable();
    context.disable();
  });

  it('carries the caller’s span to the remote command and query handlers, each in a consumer span', async () => {
    const shop = apps[1];
    const caller = provider.getTracer().startSpan('POST /checkout');
    const answer = await context.with(trace.setSpan(context.active(), caller), async () => {
      await shop.get(CommandBus).execute(new Pack(1));
      return shop.get(QueryBus).execute<number>(new Weigh(21));
    });
    expect(answer).toBe(42);
    await waitFor(() => traceparents.command !== undefined, 'the command handled');
    const { traceId, spanId } = caller.spanContext();
    expect(traceparents).toEqual({ command: `00-${traceId}-${spanId}-01`, query: `00-${traceId}-${spanId}-01` });
    for (const type of ['traced.Pack', 'traced.Weigh']) {
      const span = provider.spans.find((s) => s.name === `process ${type}`)!;
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.links[0].context).toMatchObject({ traceId, spanId });
    }
  });
});
