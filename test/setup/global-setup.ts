import { assertPostgres, assertRabbitMq } from './services';

/** Fails the whole run, with a clear message, when a service the suite needs is down. */
export default async function globalSetup(): Promise<void> {
  await assertPostgres();
  await assertRabbitMq();
}
