import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** An AsyncLocalStorage context manager (what the SDK's Node context manager does). */
export class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

/** A span that records everything done to it. */
export class RecordedSpan implements Span {
  attributes: Attributes = {};
  status?: SpanStatus;
  exceptions: unknown[] = [];
  ended = false;
  constructor(
    readonly name: string,
    readonly kind: SpanKind | undefined,
    readonly links: Link[],
    readonly context: SpanContext,
    readonly parentSpanId: string | undefined,
  ) {}
  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: Attributes[string]): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(link: Link): this {
    this.links.push(link);
    return this;
  }
  addLinks(links: Link[]): this {
    this.links.push(...links);
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {
    this.ended = true;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: unknown): void {
    this.exceptions.push(exception);
  }
}

/** A tracer provider keeping every span started (a minimal stand-in for the OpenTelemetry SDK). */
export class RecordingTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];
  private readonly tracer: Tracer = {
    startSpan: (name: string, options: SpanOptions = {}, ctx?: Context): Span => {
      const parent = options.root ? undefined : trace.getSpanContext(ctx ?? ROOT_CONTEXT);
      const sc: SpanContext = {
        traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: 1,
      };
      const span = new RecordedSpan(name, options.kind, [...(options.links ?? [])], sc, parent?.spanId);
      if (options.attributes) span.setAttributes(options.attributes);
      this.spans.push(span);
      return span;
    },
    startActiveSpan: (() => {
      throw new Error('not used');
    }) as Tracer['startActiveSpan'],
  };
  getTracer(): Tracer {
    return this.tracer;
  }
}
