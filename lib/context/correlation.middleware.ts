import { Injectable, type NestMiddleware } from '@nestjs/common';
import { runInMessageContext } from './message-context';
import { isValidIdValue } from '../message/cloudevents.codec';
import { uuidv7 } from '../message/uuid-v7';

/** Header read and echoed by `CorrelationIdMiddleware`. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
}
interface HttpResponse {
  setHeader(name: string, value: string): void;
}

/**
 * Starts a correlation per HTTP request: takes `x-correlation-id` when valid (1-200 printable
 * ASCII characters), else makes one, echoes it in the response, and runs the request in that
 * context so commands and events it sends carry it.
 *
 * @example
 * ```ts
 * export class AppModule implements NestModule {
 *   configure(consumer: MiddlewareConsumer) { consumer.apply(CorrelationIdMiddleware).forRoutes('*'); }
 * }
 * ```
 */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(req: HttpRequest, res: HttpResponse, next: () => void): void {
    const raw = req.headers[CORRELATION_ID_HEADER];
    const given = Array.isArray(raw) ? raw[0] : raw;
    const correlationId = isValidIdValue(given) ? given : uuidv7();
    res.setHeader(CORRELATION_ID_HEADER, correlationId);
    runInMessageContext({ correlationId }, next);
  }
}
