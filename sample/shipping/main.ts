import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ShippingAppModule } from './shipping.module';

/**
 * Starts the shipping service (no HTTP: it only consumes). Run it beside the orders sample on
 * RabbitMQ: `MESSAGING_TRANSPORT=rabbitmq MESSAGING_AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run sample:shipping`.
 */
async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(ShippingAppModule.register(process.env));
  app.enableShutdownHooks();
  new Logger('Shipping').log('shipping service consuming shipping.commands and shipping.queries');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
