/**
 * The cases of the two-service scenario, registered in the current describe block for one
 * transport (in memory, RabbitMQ). `env()` gives the started apps once `beforeAll` has run.
 */
import type { TestingModule } from '@nestjs/testing';
import {
  DeadLetterService,
  InvalidMessageError,
  NoResponderError,
  RemoteMessaging,
  QueryTimeoutError,
  RemoteHandlerError,
  ReplyTooLargeError,
} from '../../lib';
import { waitFor } from '../setup/wait';
import { GetStock, OrderPlaced, ShipOrder, busesOf, healed, seen } from './remote-scenario';

/** The apps of one run of the scenario. */
export interface ScenarioEnv {
  orders: TestingModule;
  shipping: TestingModule[];
  /** Endpoint (service) names. */
  shippingName: string;
  /** An endpoint no service runs. */
  nobody: string;
  /** A run-unique prefix for order ids. */
  tag: string;
}

export function remoteScenarioCases(env: () => ScenarioEnv): void {
  const handled = (orderId: string) => seen.commands.filter((c) => c.orderId === orderId);

  it('delivers a routed command to the receiving service once, with its metadata, sender code unchanged', async () => {
    const { orders, tag } = env();
    const { commands } = busesOf(orders);
    const id = `${tag}-cmd-1`;
    const result = await commands.execute(new ShipOrder(id, 3), { correlationId: `${tag}-corr-1` });
    expect(result).toBeUndefined();
    await waitFor(() => handled(id).length === 1, 'routed command handled');
    const [c] = handled(id);
    expect(c.service).toBe(env().shippingName);
    expect(c.kind).toBe('commands');
    expect(c.correlationId).toBe(`${tag}-corr-1`);
    expect(c.causationId).toBeUndefined();
    expect(c.attempt).toBe(1);
  });

  it('never runs a routed command for an event that merely has its type (nothing applied that was not sent)', async () => {
    const { orders, tag } = env();
    const fake = `${tag}-fake`;
    const real = `${tag}-real`;
    // the command's class published as an event, then the real command as a barrier behind it
    await busesOf(orders).events.publish(new ShipOrder(fake, 1));
    await busesOf(orders).commands.execute(new ShipOrder(real, 1));
    await waitFor(() => handled(real).length === 1, 'the real command');
    expect(handled(fake)).toEqual([]);
  });

  it('gives a command sent from an event handler that event as its cause, and keeps the correlation', async () => {
    const { orders, tag } = env();
    const id = `${tag}-evt-1`;
    await busesOf(orders).events.publish(new OrderPlaced(id), { correlationId: `${tag}-corr-2` });
    await waitFor(() => handled(id).length === 1, 'command caused by the event');
    const [c] = handled(id);
    expect(c.correlationId).toBe(`${tag}-corr-2`);
    expect(c.causationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.causationId).not.toBe(c.messageId);
  });

  it('retries a failed routed command with the receiving service’s retry policy', async () => {
    const { orders, tag } = env();
    const id = `flaky-${tag}`;
    await busesOf(orders).commands.execute(new ShipOrder(id, 1));
    await waitFor(() => handled(id).length === 2, 'second attempt');
    expect(handled(id).map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('dead-letters a routed command that fails for good, with the reason, and replays it to the receiving service', async () => {
    const { orders, tag, shipping } = env();
    const id = `poison-${tag}`;
    await busesOf(orders).commands.execute(new ShipOrder(id, 1));
    const letters = shipping[0].get(DeadLetterService);
    const mine = async () =>
      (await letters.list({ subscriber: 'commands' })).filter((d) => d.body.toString().includes(id));
    await waitFor(async () => (await mine()).length === 1, 'the dead letter');
    const [letter] = await mine();
    expect(letter.type).toBe('remote.ShipOrder');
    expect(letter.error).toMatchObject({ name: 'PermanentMessageError', message: `no carrier serves ${id}` });
    healed.add(id);
    expect(await letters.replay({ ids: [letter.id] })).toBe(1);
    await waitFor(() => handled(id).length === 2, 'the replayed command handled');
    expect(handled(id).map((c) => c.attempt)).toEqual([1, 1]);
  });

  it('shares routed commands among the receiving service’s instances, each handled once', async () => {
    const { orders, tag, shipping } = env();
    const ids = Array.from({ length: 30 }, (_, i) => `${tag}-many-${i}`);
    for (const id of ids) await busesOf(orders).commands.execute(new ShipOrder(id, 1));
    await waitFor(() => ids.every((id) => handled(id).length >= 1), 'all 30 handled');
    expect(ids.every((id) => handled(id).length === 1)).toBe(true);
    const instances = new Set(ids.map((id) => handled(id)[0].instance));
    expect(instances.size).toBe(shipping.length);
  });

  it('answers a routed query with the typed result, the caller’s correlation flowing across', async () => {
    const { orders, tag } = env();
    const sku = `${tag}-sku`;
    const stock = await busesOf(orders).queries.execute(new GetStock(sku), { correlationId: `${tag}-corr-q` });
    expect(stock).toEqual({ sku, available: sku.length });
    const answered = seen.queries.find((q) => q.orderId === sku)!;
    expect(answered.correlationId).toBe(`${tag}-corr-q`);
    expect(answered.causationId).toBeUndefined(); // a top-level query: the caller handled nothing
  });

  it('rejects with RemoteHandlerError carrying the remote error’s name and message, no stack', async () => {
    const { orders, tag } = env();
    const error = await busesOf(orders)
      .queries.execute(new GetStock(`unknown-${tag}`))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteHandlerError);
    const remote = error as RemoteHandlerError;
    expect(remote.remoteName).toBe('StockUnknownError');
    expect(remote.remoteMessage).toBe(`no stock record for unknown-${tag}`);
    expect(remote.remoteStack).toBeUndefined();
    expect(remote.endpoint).toBe(env().shippingName);
  });

  it('validates a routed query on the caller’s side (InvalidMessageError, nothing sent)', async () => {
    const { orders, tag } = env();
    const before = seen.queries.length;
    const bad = new GetStock(`${tag}-bad`);
    (bad as unknown as { sku: number }).sku = 42;
    await expect(busesOf(orders).queries.execute(bad)).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(busesOf(orders).commands.execute(new ShipOrder(`${tag}-neg`, -1))).rejects.toBeInstanceOf(
      InvalidMessageError,
    );
    expect(seen.queries.length).toBe(before);
  });

  it('times out per call with QueryTimeoutError, and counts the late reply as stray', async () => {
    const { orders, tag } = env();
    const remote = orders.get(RemoteMessaging);
    const stray = remote.stats().strayReplies;
    const error = await busesOf(orders)
      .queries.execute(new GetStock(`slow-${tag}`), { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryTimeoutError);
    expect((error as QueryTimeoutError).timeoutMs).toBe(50);
    await waitFor(() => remote.stats().strayReplies > stray, 'the late reply arrives and is dropped');
    expect(remote.stats().inFlight).toBe(0);
  });

  it('fails at once with NoResponderError for an endpoint nobody serves', async () => {
    const { orders, nobody } = env();
    const error = await busesOf(orders)
      .queries.execute({ type: 'remote.Orphan' }, { timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoResponderError);
    expect((error as NoResponderError).endpoint).toBe(nobody);
  });

  it('fails a reply over the limit with ReplyTooLargeError, on the caller without waiting for the timeout', async () => {
    const { orders, tag } = env();
    const error = await busesOf(orders)
      .queries.execute(new GetStock(`huge-${tag}`), { timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplyTooLargeError);
    expect((error as Error).message).toMatch(/over the limit/);
  });
}
