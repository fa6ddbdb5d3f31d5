import {
  type ArgumentsHost,
  BadRequestException,
  Catch,
  GatewayTimeoutException,
  HttpStatus,
  InternalServerErrorException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { HandlerNotFoundError } from './handler-not-found.error';
import { InvalidMessageError } from './invalid-message.error';
import { NoResponderError, QueryTimeoutError } from './remote-query.errors';

/** The body of a 400 answered for an `InvalidMessageError`. */
export interface InvalidMessageResponse {
  statusCode: HttpStatus.BAD_REQUEST;
  error: 'Bad Request';
  /** The error's message: the type and each failed property. */
  message: string;
  /** The message type that failed validation. */
  messageType: string;
  /** One entry per failed property: its path and the failed constraints' messages. */
  failures: Array<{ property: string; constraints: Record<string, string> }>;
}

/**
 * Maps the library's errors to HTTP answers for controllers that send commands and queries:
 * `InvalidMessageError` (class-validator rules of the command or query) becomes **400** with the
 * field errors (`InvalidMessageResponse`), `HandlerNotFoundError` a **500** whose message says
 * which handler is missing; a query routed to another service that no instance of it is there to
 * answer (`NoResponderError`) a **503**, one it did not answer in time (`QueryTimeoutError`) a
 * **504**; anything else goes to Nest's default handling. Register it globally
 * (`{ provide: APP_FILTER, useClass: MessagingExceptionFilter }`, or
 * `app.useGlobalFilters(new MessagingExceptionFilter(app.get(HttpAdapterHost).httpAdapter))`) or
 * per controller with `@UseFilters(MessagingExceptionFilter)`. Works with Express and Fastify
 * (it answers through Nest's HTTP adapter).
 *
 * Note: an event a handler publishes that breaks its own rules is an `InvalidMessageError` too and
 * is answered 400 as well; log it on the server if that matters to you.
 */
@Catch(InvalidMessageError, HandlerNotFoundError, NoResponderError, QueryTimeoutError)
export class MessagingExceptionFilter extends BaseExceptionFilter {
  override catch(
    exception: InvalidMessageError | HandlerNotFoundError | NoResponderError | QueryTimeoutError,
    host: ArgumentsHost,
  ): void {
    if (host.getType() !== 'http') return super.catch(exception, host);
    if (exception instanceof NoResponderError) {
      return super.catch(new ServiceUnavailableException(exception.message), host);
    }
    if (exception instanceof QueryTimeoutError) {
      return super.catch(new GatewayTimeoutException(exception.message), host);
    }
    if (exception instanceof InvalidMessageError) {
      const body: InvalidMessageResponse = {
        statusCode: HttpStatus.BAD_REQUEST,
        error: 'Bad Request',
        message: exception.message,
        messageType: exception.messageType,
        failures: exception.failures.map((f) => ({ property: f.property, constraints: { ...f.constraints } })),
      };
      return super.catch(new BadRequestException(body), host);
    }
    return super.catch(new InternalServerErrorException(exception.message), host);
  }
}
