import { runTransportContract } from './transport-contract';
import { InMemoryBroker } from '../../lib/transport/in-memory/in-memory.broker';
import { InMemoryTransport } from '../../lib/transport/in-memory/in-memory.transport';

runTransportContract('memory', () => {
  const broker = new InMemoryBroker();
  return {
    create: () => new InMemoryTransport(broker),
    cleanup: async () => undefined,
    features: { competingConsumers: true },
    timeoutMs: 5000,
  };
});
