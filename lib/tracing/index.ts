/** Tracing: W3C `traceparent` on outgoing messages and consumer spans, via `@opentelemetry/api`. */
export { MessagingTracing } from './messaging-tracing.service';
export type { ConsumeWrapper } from './consume-wrapper';
export { formatTraceparent, parseTraceparent, type TraceParent } from './traceparent';
