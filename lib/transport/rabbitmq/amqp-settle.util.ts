import type { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import type { Channel, ChannelModel } from 'amqplib';
import { TransportNotConnectedError } from './errors/transport-not-connected.error';

// amqplib leaves some calls without an answer when the connection dies under them (a channel
// being opened, a channel's or the connection's close before the broker's close-ok). Everything
// here settles such calls: on the connection's or channel's 'close' event, or after a time limit.

/** How long closing a channel or a connection may take before it is given up on. */
const CLOSE_TIMEOUT_MS = 5_000;

/** Resolves after `ms`, without keeping the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** What {@link connectionLoss} returns. */
export interface ConnectionLoss {
  /** Rejects when the connection closes or the time limit passes; never resolves. */
  promise: Promise<never>;
  /** Stops listening (call when the guarded work is done). */
  dispose: () => void;
}

/**
 * A promise that rejects when `raw` closes, or after `timeoutMs` (saying `what` got no answer),
 * to race work on that connection against.
 */
export function connectionLoss(raw: ChannelModel, what: string, timeoutMs: number): ConnectionLoss {
  let onClose = (): void => undefined;
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    onClose = () => reject(new TransportNotConnectedError(`${what}: connection closed`));
    timer = setTimeout(
      () => reject(new TransportNotConnectedError(`${what}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
  });
  promise.catch(() => undefined);
  raw.once('close', onClose);
  return {
    promise,
    dispose: () => {
      clearTimeout(timer);
      raw.removeListener('close', onClose);
    },
  };
}

/**
 * Opens a channel (a confirm channel with `confirm`) on `raw`, giving up when `lost` rejects; a
 * channel that arrives after that is closed, not leaked.
 */
export function openChannelUntil<C extends Channel>(
  raw: ChannelModel,
  confirm: boolean,
  lost: ConnectionLoss,
): Promise<C> {
  const creating = (confirm ? raw.createConfirmChannel() : raw.createChannel()) as Promise<C>;
  lost.promise.catch(() =>
    creating.then(
      (late) => closeChannel(late),
      () => undefined,
    ),
  );
  return Promise.race([creating, lost.promise]);
}

/**
 * Closes an amqplib channel, never throwing and never waiting forever: settles when `close()`
 * does, on the channel's 'close' event, or after `timeoutMs`.
 */
export function closeChannel(
  channel: {
    close(): Promise<void>;
    once(event: 'close', l: () => void): unknown;
    removeListener(event: 'close', l: () => void): unknown;
  },
  timeoutMs = CLOSE_TIMEOUT_MS,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      channel.removeListener('close', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    channel.once('close', done);
    try {
      channel.close().then(done, done);
    } catch {
      done(); // closed already
    }
  });
}

/** Settles when `work` does or after `ms`, whichever comes first; never rejects. */
function bounded(work: () => Promise<unknown>, ms: number): Promise<void> {
  const settled = Promise.resolve()
    .then(work)
    .then(
      () => undefined,
      () => undefined,
    );
  return Promise.race([settled, sleep(ms)]);
}

/**
 * Closes golevelup's connection. Its `close()` closes its channels first and the connection
 * manager last, so a close left pending by a dying socket kept the manager reconnecting after
 * close. The manager is closed first (which stops reconnecting at once), done when the socket is
 * gone, and each step is bounded in time.
 */
export async function closeAmqp(amqp: AmqpConnection): Promise<void> {
  const manager = amqp.managedConnection;
  const raw = manager.connection as ChannelModel | undefined;
  const gone = raw ? new Promise<void>((resolve) => raw.once('close', () => resolve())) : Promise.resolve();
  await bounded(() => Promise.race([manager.close(), gone]), CLOSE_TIMEOUT_MS);
  await bounded(() => amqp.close(), CLOSE_TIMEOUT_MS);
}
