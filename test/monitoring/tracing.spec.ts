import 'reflect-metadata';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { EnvelopeFactory } from '../../lib/message/envelope.factory';
import { decodeEnvelope, encodeEnvelope } from '../../lib/message/cloudevents.codec';
import { InMemoryTransport } from '../../lib/transport/in-memory/in-memory.transport';
import { MessagingTracing, TRACING_REFRESH_MS } from '../../lib/tracing/messaging-tracing.service';
import { formatTraceparent, parseTraceparent } from '../../lib/tracing/traceparent';
import { resolveMonitoringOptions } from '../../lib/monitoring/monitoring-options.validator';
import { AlsContextManager, RecordingTracerProvider } from './test-tracer';

const TP = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

function tracing(producerAsParent = false): MessagingTracing {
  return new MessagingTracing(new InMemoryTransport(), resolveMonitoringOptions({ tracing: { producerAsParent } }));
}

describe('traceparent parsing', () => {
  it('round-trips and rejects what W3C Trace Context rejects', () => {
    const tp = formatTraceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 1);
    expect(tp).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(parseTraceparent(tp)).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    expect(parseTraceparent(`00-${'0'.repeat(32)}-b7ad6b7169203331-01`)).toBeUndefined();
    expect(parseTraceparent(`00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceparent('ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });
});

describe('MessagingTracing without an OpenTelemetry SDK', () => {
  it('adds no traceparent and runs the handler unchanged', async () => {
    const t = tracing();
    expect(t.enabled).toBe(true);
    const envelope = new EnvelopeFactory('svc', t.traceparent).create('T', 1, {});
    expect(envelope.traceparent).toBeUndefined();
    let ran = 0;
    await t.consumeWrapper!(envelope, 'sub', 1, async () => void ran++);
    expect(ran).toBe(1);
    await expect(t.consumeWrapper!(envelope, 'sub', 1, async () => Promise.reject(new Error('x')))).rejects.toThrow(
      'x',
    );
  });

  it('is entirely off with tracing: false', () => {
    const t = new MessagingTracing(new InMemoryTransport(), resolveMonitoringOptions({ tracing: false }));
    expect(t.enabled).toBe(false);
    expect(t.consumeWrapper).toBeUndefined();
    expect(t.traceparent()).toBeUndefined();
  });
});

describe('MessagingTracing with a tracer provider and context manager registered', () => {
  const provider = new RecordingTracerProvider();
  const manager = new AlsContextManager();

  beforeAll(() => {
    context.setGlobalContextManager(manager);
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('puts the active span on outgoing envelopes and links the consumer span to it', async () => {
    const t = tracing();
    const producer = provider.getTracer().startSpan('POST /orders');
    const envelope = context.with(trace.setSpan(context.active(), producer), () =>
      new EnvelopeFactory('orders', t.traceparent).create('OrderPlaced', 1, { id: 1 }),
    );
    const { traceId, spanId } = producer.spanContext();
    expect(envelope.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    const received = decodeEnvelope(encodeEnvelope(envelope)); // travels as the CloudEvents extension
    expect(received.traceparent).toBe(envelope.traceparent);

    let inner: string | undefined;
    await t.consumeWrapper!(received, 'InventoryService.onOrderPlaced', 2, async () => {
      inner = new EnvelopeFactory('inventory', t.traceparent).create('StockReserved', 1, {}).traceparent;
    });
    const consumer = provider.spans[provider.spans.length - 1];
    expect(consumer.name).toBe('process OrderPlaced');
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.links).toEqual([{ context: { traceId, spanId, traceFlags: 1, isRemote: true } }]);
    expect(consumer.context.traceId).not.toBe(traceId); // a new trace, linked
    expect(consumer.parentSpanId).toBeUndefined();
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': 'InventoryService.onOrderPlaced',
      'messaging.message.id': envelope.id,
      'messaging.message.conversation_id': envelope.correlationId,
      'nestjs_messaging.attempt': 2,
    });
    expect(consumer.ended).toBe(true);
    expect(consumer.status).toBeUndefined();
    // a message sent by the handler carries the consumer span
    expect(inner).toMatch(TP);
    expect(inner).toBe(`00-${consumer.context.traceId}-${consumer.context.spanId}-01`);
  });

  it('continues the producer trace with producerAsParent, and records failures', async () => {
    const t = tracing(true);
    const producer = provider.getTracer().startSpan('job');
    const envelope = context.with(trace.setSpan(context.active(), producer), () =>
      new EnvelopeFactory('orders', t.traceparent).create('OrderPlaced', 1, {}),
    );
    const failure = new RangeError('card declined');
    await expect(t.consumeWrapper!(envelope, 'payments', 1, async () => Promise.reject(failure))).rejects.toBe(failure);
    const consumer = provider.spans[provider.spans.length - 1];
    expect(consumer.context.traceId).toBe(producer.spanContext().traceId);
    expect(consumer.parentSpanId).toBe(producer.spanContext().spanId);
    expect(consumer.status).toEqual({ code: SpanStatusCode.ERROR, message: 'RangeError: card declined' });
    expect(consumer.exceptions).toEqual([failure]);
    expect(consumer.ended).toBe(true);
  });

  it('keeps a synchronous handler synchronous (the pipeline fast path) and ends its span', () => {
    const t = tracing();
    const envelope = new EnvelopeFactory('orders', () => undefined).create('OrderPlaced', 1, {});
    expect(t.consumeWrapper!(envelope, 'sub', 1, () => false)).toBe(false);
    expect(provider.spans[provider.spans.length - 1].ended).toBe(true);
    expect(() =>
      t.consumeWrapper!(envelope, 'sub', 1, () => {
        throw new TypeError('sync failure');
      }),
    ).toThrow('sync failure');
    const failed = provider.spans[provider.spans.length - 1];
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'TypeError: sync failure' });
    expect(failed.ended).toBe(true);
  });

  it('starts an unlinked consumer span for a message without traceparent', async () => {
    const t = tracing();
    const envelope = new EnvelopeFactory('orders', () => undefined).create('OrderPlaced', 1, {});
    await t.consumeWrapper!(envelope, 'sub', 1, async () => undefined);
    const consumer = provider.spans[provider.spans.length - 1];
    expect(consumer.links).toEqual([]);
    expect(consumer.ended).toBe(true);
  });
});

describe('MessagingTracing when the SDK is registered after messages flowed', () => {
  afterEach(() => {
    trace.disable();
    context.disable();
  });

  it('starts spans and propagates traceparent once it looks again (within TRACING_REFRESH_MS)', async () => {
    const t = tracing();
    const factory = new EnvelopeFactory('orders', t.traceparent);
    let active: unknown = 'unset';
    const envelope = factory.create('OrderPlaced', 1, {});
    t.consumeWrapper!(envelope, 'sub', 1, () => (active = trace.getActiveSpan()));
    expect(active).toBeUndefined();
    expect(envelope.traceparent).toBeUndefined();

    // what an SDK's start() does: the API's proxy provider (the object handed out before) gets a delegate
    const provider = new RecordingTracerProvider();
    context.setGlobalContextManager(new AlsContextManager());
    trace.setGlobalTracerProvider(provider);
    await new Promise((resolve) => setTimeout(resolve, TRACING_REFRESH_MS + 50));

    t.consumeWrapper!(envelope, 'sub', 1, () => (active = trace.getActiveSpan()));
    expect(provider.spans.map((s) => s.name)).toEqual(['process OrderPlaced']);
    expect(active).toBe(provider.spans[0]);
    const producer = provider.getTracer().startSpan('POST /orders');
    const later = context.with(trace.setSpan(context.active(), producer), () => factory.create('OrderPlaced', 1, {}));
    expect(later.traceparent).toBe(`00-${producer.spanContext().traceId}-${producer.spanContext().spanId}-01`);

    // the SDK replaced (trace.disable() makes a new proxy): spans go to the new one
    trace.disable();
    const next = new RecordingTracerProvider();
    trace.setGlobalTracerProvider(next);
    await new Promise((resolve) => setTimeout(resolve, TRACING_REFRESH_MS + 50));
    t.consumeWrapper!(envelope, 'sub', 1, () => undefined);
    expect(next.spans.map((s) => s.name)).toEqual(['process OrderPlaced']);
    t.onModuleDestroy();
  });
});
