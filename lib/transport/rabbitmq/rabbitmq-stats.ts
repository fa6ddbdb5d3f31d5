import type { QueueStats } from '../transport.interface';
import { closeChannel } from './amqp-settle.util';
import type { RabbitMqConnection } from './rabbitmq.connection';

/** Depth and consumer count of each `[subscriber, queue]` (passive declare on a channel of its own). */
export async function queueStats(
  connection: RabbitMqConnection,
  queues: Array<[string, string]>,
): Promise<QueueStats[]> {
  const ch = await connection.openChannel('stats');
  try {
    const stats: QueueStats[] = [];
    for (const [subscriber, queue] of queues) {
      const { messageCount, consumerCount } = await ch.checkQueue(queue);
      stats.push({ subscriber, queue, depth: messageCount, consumers: consumerCount });
    }
    return stats;
  } finally {
    await closeChannel(ch);
  }
}
