import { SUBSCRIBE_METADATA } from './metadata.keys';
import type { MessageClass } from '../message/message-type';
import type { RetryPolicyOptions } from '../consumer/retry.policy';

/** Options of one `@Subscribe`. */
export interface SubscribeOptions {
  /**
   * Subscriber name, unique in the service; names its queue `<service>.<name>`.
   * Default: `<ClassName>.<methodName>`. Set it explicitly to keep queue names stable across refactors.
   */
  name?: string;
  /**
   * The payload version this handler understands; older versions are upcast, newer ones are
   * dead-lettered. Default: the `@Message` class's version, else 1.
   */
  version?: number;
  /** Retry policy overrides for this subscriber. */
  retry?: RetryPolicyOptions;
  /** Deliveries handled at once by this instance. Default: the module's `concurrency`. */
  concurrency?: number;
  /** Handler timeout, ms (a timeout is a transient failure). Default: the module's `handlerTimeoutMs`. */
  timeoutMs?: number;
  /** Use the processed-messages inbox (needs the outbox/database). Default: true when the inbox is on. */
  inbox?: boolean;
  /**
   * Let deliveries that queue up share one inbox transaction (see the outbox option `groupCommit`).
   * Set `false` for a handler that calls outside systems and should not run again when a neighbour
   * in its group fails. Default `true`.
   */
  groupCommit?: boolean;
}

/** @internal one `@Subscribe` as recorded on the class. */
export interface SubscribeDeclaration {
  method: string;
  messages: Array<MessageClass | string>;
  options: SubscribeOptions;
}

/**
 * Subscribes a provider method to one or more events, by type name or `@Message` class.
 * Any number of subscribers may handle one event; each gets its own copy, retries and
 * dead letters. Several `@Subscribe` methods per class are allowed.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class InventoryService {
 *   @Subscribe('OrderCreated')
 *   async onOrderCreated(event: OrderCreatedEvent) { ... }
 * }
 * ```
 */
export function Subscribe(
  message: MessageClass | string | Array<MessageClass | string>,
  options: SubscribeOptions = {},
): MethodDecorator {
  return (target, propertyKey) => {
    const ctor = (target as object).constructor;
    const own: SubscribeDeclaration[] = Reflect.hasOwnMetadata(SUBSCRIBE_METADATA, ctor)
      ? Reflect.getOwnMetadata(SUBSCRIBE_METADATA, ctor)
      : [...(Reflect.getMetadata(SUBSCRIBE_METADATA, ctor) ?? [])];
    own.push({
      method: String(propertyKey),
      messages: Array.isArray(message) ? message : [message],
      options,
    });
    Reflect.defineMetadata(SUBSCRIBE_METADATA, own, ctor);
  };
}
