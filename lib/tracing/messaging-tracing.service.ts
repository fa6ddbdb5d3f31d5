import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { Context, ContextAPI, Link, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { MESSAGING_TRANSPORT } from '../messaging.tokens';
import type { MessageTransport } from '../transport/transport.interface';
import type { MessageEnvelope } from '../message/envelope';
import { MESSAGING_MONITORING_OPTIONS } from '../monitoring/monitoring.tokens';
import type { ResolvedMonitoringOptions } from '../monitoring/monitoring-options.interface';
import { resolveMonitoringOptions } from '../monitoring/monitoring-options.validator';
import { loadOtelApi, type OtelApiModule } from './otel.loader';
import { formatTraceparent, parseTraceparent } from './traceparent';
import type { ConsumeWrapper } from './consume-wrapper';

const none = (): string | undefined => undefined;

/** How long a look at the global registrations (tracer provider, context manager) holds, ms. */
export const TRACING_REFRESH_MS = 100;

/**
 * OpenTelemetry for messages, through `@opentelemetry/api` only (an optional peer dependency; no
 * SDK needed — without one every call is a cheap no-op):
 * - `traceparent`: the provider for `EnvelopeFactory` — the active span's W3C `traceparent`, which
 *   travels as the CloudEvents distributed-tracing extension; undefined when no valid span is active.
 * - `consumeWrapper`: for the consumer pipeline — a CONSUMER span `process <type>` around the
 *   handler, linked to the producer's span (and its child with `producerAsParent`), active while
 *   the handler runs so messages it sends carry this span's `traceparent`. Errors are recorded.
 *
 * Whether an SDK's tracer provider and a context manager are registered is looked at again at most
 * every `TRACING_REFRESH_MS`: without them no span is started and no context is read, so the
 * no-SDK case costs a field read per message, and an SDK registered later counts from then on.
 */
@Injectable()
export class MessagingTracing implements OnModuleDestroy {
  /** Whether tracing is on (`@opentelemetry/api` installed and not turned off). */
  readonly enabled: boolean;
  /** The `traceparent` provider for `EnvelopeFactory` (returns undefined when off). */
  readonly traceparent: () => string | undefined = none;
  /** The consume wrapper for `ConsumerPipeline` (undefined when off: no cost at all). */
  readonly consumeWrapper?: ConsumeWrapper;
  private readonly api?: OtelApiModule;
  private tracer?: Tracer;
  private readonly system: string;
  private readonly producerAsParent: boolean;
  private readonly tracerName: string;
  /** Whether the registrations must be looked at again (see `refresh`). */
  private stale = true;
  /** No tracer provider of an SDK behind the API's proxy: spans would be no-ops. */
  private noTracer = true;
  /** No context manager registered: no span can be active. */
  private noContextManager = true;
  private refreshTimer?: NodeJS.Timeout;
  private probe?: Context;
  /** After `onModuleDestroy`: the last verdict holds, no timer is armed any more. */
  private destroyed = false;

  constructor(
    @Inject(MESSAGING_TRANSPORT) transport: MessageTransport,
    @Optional() @Inject(MESSAGING_MONITORING_OPTIONS) options?: ResolvedMonitoringOptions,
  ) {
    const { tracing } = options ?? resolveMonitoringOptions(undefined);
    this.system = transport.name;
    this.producerAsParent = tracing.producerAsParent;
    this.tracerName = tracing.tracerName;
    const api = tracing.enabled ? loadOtelApi() : undefined;
    this.enabled = api !== undefined;
    if (!api) return;
    this.api = api;
    this.tracer = api.trace.getTracer(tracing.tracerName);
    const root = api.ROOT_CONTEXT;
    this.traceparent = () => {
      if (this.stale) this.refresh();
      if (this.noContextManager) return undefined;
      const active = api.context.active();
      if (active === root) return undefined; // no context manager or no span set: the common no-SDK case
      const sc = api.trace.getSpanContext(active);
      return sc && api.isSpanContextValid(sc) ? formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags) : undefined;
    };
    this.consumeWrapper = Object.assign(
      <T>(envelope: MessageEnvelope, subscriber: string, attempt: number, work: () => T): T =>
        this.consume(envelope, subscriber, attempt, work),
      { wraps: (envelope: MessageEnvelope) => this.wraps(envelope) },
    );
  }

  /** The producer's span context carried by `envelope`, if valid. */
  producerContext(envelope: Pick<MessageEnvelope, 'traceparent'>): SpanContext | undefined {
    const p = parseTraceparent(envelope.traceparent);
    return p && { traceId: p.traceId, spanId: p.spanId, traceFlags: p.traceFlags, isRemote: true };
  }

  /** Stops the refresh timer. */
  onModuleDestroy(): void {
    this.destroyed = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /**
   * Looks at the global registrations: `setGlobalTracerProvider` gives the API's proxy provider
   * (the same object before and after) a delegate, so the delegate is what tells an SDK; a context
   * manager is there when `context.with` makes a context active. Holds for `TRACING_REFRESH_MS`
   * (a one-shot timer, armed only while messages flow).
   */
  private refresh(): void {
    const api = this.api!;
    this.stale = false;
    const provider = api.trace.getTracerProvider();
    this.noTracer =
      provider instanceof api.ProxyTracerProvider && provider.getDelegateTracer(this.tracerName) === undefined;
    // a tracer from the provider registered now (after trace.disable() the old one stays a no-op)
    if (!this.noTracer) this.tracer = api.trace.getTracer(this.tracerName);
    const probe = (this.probe ??= api.ROOT_CONTEXT.setValue(api.createContextKey('nestjs-messaging probe'), true));
    const ctx: ContextAPI = api.context;
    this.noContextManager = ctx.with(probe, () => ctx.active() !== probe);
    if (this.refreshTimer === undefined && !this.destroyed) {
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = undefined;
        this.stale = true;
      }, TRACING_REFRESH_MS);
      this.refreshTimer.unref?.();
    }
  }

  /** Whether a message gets a span: no SDK, nothing to record; only a producer span made the parent would still be propagated. */
  private wraps(envelope: MessageEnvelope): boolean {
    if (this.stale) this.refresh();
    return (this.producerAsParent && envelope.traceparent !== undefined) || !this.noTracer;
  }

  private consume<T>(envelope: MessageEnvelope, subscriber: string, attempt: number, work: () => T): T {
    const api = this.api!;
    if (!this.wraps(envelope)) return work();
    const producer = this.producerContext(envelope);
    const active = api.context.active();
    // not a child of whatever span is active in the transport's callback (allocation only when there is one)
    const base: Context =
      this.producerAsParent && producer
        ? api.trace.setSpanContext(active, producer)
        : api.trace.getSpan(active) === undefined
          ? active
          : api.trace.deleteSpan(active);
    const links: Link[] | undefined = producer ? [{ context: producer }] : undefined;
    const span = this.tracer!.startSpan(`process ${envelope.type}`, { kind: api.SpanKind.CONSUMER, links }, base);
    if (!span.isRecording() && !api.isSpanContextValid(span.spanContext())) {
      span.end();
      return work(); // no SDK (or nothing to propagate): no context switch
    }
    if (span.isRecording()) {
      span.setAttributes({
        'messaging.system': this.system,
        'messaging.operation.type': 'process',
        'messaging.destination.name': envelope.type,
        'messaging.consumer.group.name': subscriber,
        'messaging.message.id': envelope.id,
        'messaging.message.conversation_id': envelope.correlationId,
        'cloudevents.event_id': envelope.id,
        'cloudevents.event_type': envelope.type,
        'cloudevents.event_source': envelope.source,
        'nestjs_messaging.attempt': attempt,
      });
    }
    return api.context.with(api.trace.setSpan(base, span), () => this.run(span, work));
  }

  /** Runs `work` with `span` active; ends it when `work` returns or settles, recording a failure. */
  private run<T>(span: Span, work: () => T): T {
    let result: T;
    try {
      result = work();
    } catch (err) {
      this.fail(span, err);
      throw err;
    }
    if (result !== null && typeof (result as { then?: unknown })?.then === 'function') {
      return (result as unknown as Promise<unknown>).then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          this.fail(span, err);
          throw err;
        },
      ) as unknown as T;
    }
    span.end();
    return result;
  }

  private fail(span: Span, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    span.recordException(e);
    span.setStatus({ code: this.api!.SpanStatusCode.ERROR, message: `${e.name}: ${e.message}`.slice(0, 500) });
    span.end();
  }
}
