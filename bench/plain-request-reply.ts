import { randomUUID } from 'node:crypto';
import { connect, type ConsumeMessage } from 'amqplib';

/**
 * Plain amqplib request/reply, written the way a careful engineer would (the baseline of
 * bench/remote.ts): a responder consuming `queue` (prefetch 10) and replying to `reply-to` with the
 * correlation id; a client channel consuming `amq.rabbitmq.reply-to` (no ack) and publishing the
 * requests, a map of correlation id → pending call; JSON bodies; sockets with Nagle off.
 */
export async function plainRequestReply(
  url: string,
  queue: string,
): Promise<{ ask: (sku: string) => Promise<unknown>; stop: () => Promise<void> }> {
  const server = await connect(url, { noDelay: true });
  const client = await connect(url, { noDelay: true });
  const sch = await server.createChannel();
  await sch.assertQueue(queue, { durable: false, autoDelete: true });
  await sch.prefetch(10);
  await sch.consume(queue, (msg: ConsumeMessage | null) => {
    if (!msg) return;
    const q = JSON.parse(msg.content.toString()) as { sku: string };
    sch.publish('', msg.properties.replyTo as string, Buffer.from(JSON.stringify({ sku: q.sku, available: 7 })), {
      correlationId: msg.properties.correlationId,
    });
    sch.ack(msg);
  });
  const cch = await client.createChannel();
  const pending = new Map<string, (v: unknown) => void>();
  await cch.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      const resolve = msg && pending.get(msg.properties.correlationId as string);
      if (!resolve) return;
      pending.delete(msg!.properties.correlationId as string);
      resolve(JSON.parse(msg!.content.toString()));
    },
    { noAck: true },
  );
  return {
    ask: (sku) =>
      new Promise((resolve) => {
        const id = randomUUID();
        pending.set(id, resolve);
        cch.publish('', queue, Buffer.from(JSON.stringify({ sku })), {
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId: id,
          expiration: '10000',
        });
      }),
    stop: async () => {
      await sch.deleteQueue(queue).catch(() => undefined);
      await client.close();
      await server.close();
    },
  };
}
