export * from './errors';
export { RabbitMqTransport } from './rabbitmq.transport';
export type {
  RabbitMqTransportOptions,
  RabbitMqSocketOptions,
  RabbitMqQueueType,
  UnroutableEventsBehaviour,
} from './rabbitmq-options.interface';
export { RABBITMQ_DEFAULTS } from './rabbitmq-options.interface';
export { validateRabbitMqOptions } from './rabbitmq-options.validator';
export { maskAmqpUrl } from './amqp-url.util';
export { RABBITMQ_HEADERS } from './rabbitmq.naming';
