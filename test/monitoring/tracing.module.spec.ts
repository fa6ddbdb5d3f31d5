import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { context, trace, SpanKind } from '@opentelemetry/api';
import type { TestingModule } from '@nestjs/testing';
import { EventBus, Message, MessageContext, Subscribe } from '../../lib';
import { AlsContextManager, RecordingTracerProvider } from './test-tracer';
import { compileMonitoredModule, coreProvidesMonitoring, waitUntil } from './monitoring-app.helper';

@Message('TracedOrderPlaced')
class OrderPlaced {
  constructor(readonly n: number) {}
}
@Message('TracedStockReserved')
class StockReserved {
  constructor(readonly n: number) {}
}

const seen: Array<{ type: string; traceparent?: string }> = [];

@Injectable()
class Subscribers {
  constructor(
    private readonly ctx: MessageContext,
    private readonly bus: EventBus,
  ) {}

  @Subscribe(OrderPlaced, { name: 'inventory' })
  async onOrder(e: OrderPlaced) {
    seen.push({ type: 'TracedOrderPlaced', traceparent: this.ctx.message?.traceparent });
    await this.bus.publish(new StockReserved(e.n));
  }

  @Subscribe(StockReserved, { name: 'shipping' })
  onStock() {
    seen.push({ type: 'TracedStockReserved', traceparent: this.ctx.message?.traceparent });
  }
}

/** Needs the core wiring (EnvelopeFactory traceparent provider + pipeline consume wrapper). */
describe('tracing through the module (core wiring applied)', () => {
  it('the module provides the monitoring wiring', () => expect(coreProvidesMonitoring()).toBe(true));

  const provider = new RecordingTracerProvider();
  let moduleRef: TestingModule;

  beforeAll(async () => {
    context.setGlobalContextManager(new AlsContextManager());
    trace.setGlobalTracerProvider(provider);
    moduleRef = await compileMonitoredModule([Subscribers]);
    await moduleRef.init();
  });
  afterAll(async () => {
    await moduleRef?.close();
    trace.disable();
    context.disable();
  });

  it('a published event carries the producer span; its consumer span is linked and active for what the handler sends', async () => {
    const producer = provider.getTracer().startSpan('POST /orders');
    await context.with(trace.setSpan(context.active(), producer), () =>
      moduleRef.get(EventBus).publish(new OrderPlaced(1)),
    );
    await waitUntil(() => seen.length === 2, 'both subscribers');
    const { traceId, spanId } = producer.spanContext();
    expect(seen[0]).toEqual({ type: 'TracedOrderPlaced', traceparent: `00-${traceId}-${spanId}-01` });
    const consumer = provider.spans.find((s) => s.name === 'process TracedOrderPlaced')!;
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.links[0].context).toMatchObject({ traceId, spanId });
    expect(consumer.ended).toBe(true);
    const c = consumer.spanContext();
    expect(seen[1].traceparent).toBe(`00-${c.traceId}-${c.spanId}-01`);
    expect(provider.spans.find((s) => s.name === 'process TracedStockReserved')!.links[0].context.spanId).toBe(
      c.spanId,
    );
  });
});
