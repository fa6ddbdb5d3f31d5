import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { UNREACHABLE_CUSTOMER } from './notifications/notification.service';

/**
 * Starts the orders sample on PORT (default 3000), then plays a short demo against itself:
 * one order that goes through, one whose notification fails into the dead-letter queue.
 * `--once` exits after the demo.
 */
async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule.register(process.env));
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const log = new Logger('Demo');
  log.log(`listening on ${base} — POST /orders, GET /orders/:id, GET /dead-letters`);

  const post = async (customerId: string) => {
    const res = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': `demo-${customerId}` },
      body: JSON.stringify({ customerId, totalAmount: 42 }),
    });
    return (await res.json()) as { id: string };
  };
  const ok = await post('alice');
  log.log(`created order ${ok.id} for alice (correlation demo-alice)`);
  const failing = await post(UNREACHABLE_CUSTOMER);
  log.log(
    `created order ${failing.id} for "${UNREACHABLE_CUSTOMER}": its notification will retry twice, then be dead-lettered`,
  );
  await new Promise((r) => setTimeout(r, 2500));
  const view = await (await fetch(`${base}/orders/${ok.id}`)).json();
  log.log(`GET /orders/${ok.id} → ${JSON.stringify(view)}`);
  const dead = (await (await fetch(`${base}/dead-letters`)).json()) as Array<{
    subscriber: string;
    error: { message: string };
  }>;
  log.log(
    `GET /dead-letters → ${dead.length} dead letter(s): ${dead.map((d) => `${d.subscriber}: ${d.error.message}`).join('; ')}`,
  );

  if (process.argv.includes('--once')) {
    await app.close();
    return;
  }
  log.log(
    `try: curl -s -XPOST ${base}/orders -H 'content-type: application/json' -d '{"customerId":"bob","totalAmount":7}'`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
