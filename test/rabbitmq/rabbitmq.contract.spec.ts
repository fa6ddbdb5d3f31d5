import { runTransportContract } from '../contract/transport-contract';
import { cleanup, makeTransport, runId } from './rabbitmq-test.helpers';

/** The shared transport contract, against the real RabbitMQ (queue prefix = the suite's service names). */
runTransportContract('rabbitmq', () => {
  const run = runId();
  return {
    create: () => makeTransport(run),
    cleanup: async (services) =>
      cleanup(
        (name) => name === `${run}.events` || services.some((s) => name.startsWith(`${s}.`)),
        services.map((s) => `${s}.dead-letter`),
        [...services.map((s) => `${s}.retry`), `${run}.events`],
      ),
    features: { competingConsumers: true },
    timeoutMs: 10_000,
  };
});
