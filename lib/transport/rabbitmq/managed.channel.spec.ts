import { EventEmitter } from 'node:events';
import type { Channel } from 'amqplib';
import { ManagedChannel } from './managed.channel';
import { closeChannel } from './amqp-settle.util';
import type { RabbitMqConnection } from './rabbitmq.connection';

// The channel's own bookkeeping, against a scripted connection: the events a real broker sends
// are covered by the RabbitMQ suites; here, the orders of events those cannot force.

class FakeChannel extends EventEmitter {
  closed = false;
  async close(): Promise<void> {
    this.closed = true;
    this.emit('close');
  }
}

class FakeRaw extends EventEmitter {
  /** What each createChannel call does, in order; 'hang' never answers. */
  script: Array<'ok' | 'hang'> = [];
  created: FakeChannel[] = [];
  calls = 0;
  createChannel(): Promise<FakeChannel> {
    const step = this.script[this.calls++] ?? 'ok';
    if (step === 'hang') return new Promise<FakeChannel>(() => undefined);
    const ch = new FakeChannel();
    this.created.push(ch);
    return Promise.resolve(ch);
  }
}

function fakeConnection(raw: FakeRaw) {
  const state = { connected: true };
  const connection = {
    get raw() {
      return state.connected ? raw : undefined;
    },
    isConnected: () => state.connected,
    onConnect: () => () => undefined, // never fires: a lost 'connect' event
    scrub: (text: string) => text,
    openTimeoutMs: 200,
  };
  return { connection: connection as unknown as RabbitMqConnection, state };
}

const quiet = { log: () => undefined, error: () => undefined, warn: () => undefined };

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ManagedChannel', () => {
  const channels: ManagedChannel[] = [];
  afterEach(async () => {
    for (const c of channels.splice(0)) await c.stop();
  });

  function managed(raw: FakeRaw) {
    const { connection, state } = fakeConnection(raw);
    const channel = new ManagedChannel<Channel>(
      connection,
      { name: 'test', confirm: false, setup: async () => undefined, reopenDelayMs: 20 },
      quiet,
    );
    channels.push(channel);
    return { channel, state };
  }

  it('gives up on a channel open the broker never answers, and opens one on the next try', async () => {
    const raw = new FakeRaw();
    raw.script = ['hang', 'ok'];
    const { channel } = managed(raw);
    const started = Date.now();
    await expect(channel.start(Date.now() + 5_000)).rejects.toThrow(/no answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    await channel.start(Date.now() + 5_000);
    expect(channel.channel).toBe(raw.created[0]);
  });

  it('re-opens a channel lost on a connection whose reconnect event it never saw', async () => {
    const raw = new FakeRaw();
    const { channel, state } = managed(raw);
    await channel.start(Date.now() + 5_000);
    const first = channel.channel;
    expect(first).toBeDefined();
    // the connection drops (the channel closes while it is down, so no reopen is scheduled)...
    state.connected = false;
    await (first as unknown as FakeChannel).close();
    expect(channel.channel).toBeUndefined();
    // ...and comes back without a 'connect' event reaching the channel
    state.connected = true;
    await until(() => channel.channel !== undefined, 3_000);
    expect(channel.channel).not.toBe(first);
    expect(raw.calls).toBe(2);
  });

  it('does not re-open after stop', async () => {
    const raw = new FakeRaw();
    const { channel } = managed(raw);
    await channel.start(Date.now() + 5_000);
    await channel.stop();
    await new Promise((r) => setTimeout(r, 1_300));
    expect(channel.channel).toBeUndefined();
    expect(raw.calls).toBe(1);
  });
});

describe('closeChannel', () => {
  it('settles when the channel closes although its close() never answers (a connection that died meanwhile)', async () => {
    const ch = new FakeChannel();
    ch.close = () => new Promise<void>(() => undefined);
    const closing = closeChannel(ch, 10_000);
    setTimeout(() => ch.emit('close'), 20);
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up after its timeout, and never throws', async () => {
    const silent = new FakeChannel();
    silent.close = () => new Promise<void>(() => undefined);
    await closeChannel(silent, 50);
    const closed = new FakeChannel();
    closed.close = () => {
      throw new Error('Channel closed');
    };
    await closeChannel(closed, 10_000);
  });
});
