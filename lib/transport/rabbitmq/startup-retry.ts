import { sleep } from './amqp-settle.util';
import { InvalidConfigurationError } from '../../errors/invalid-configuration.error';
import { BrokerConnectionError } from './errors/broker-connection.error';
import { TopologyMismatchError } from './errors/topology-mismatch.error';
import type { RabbitMqConnection } from './rabbitmq.connection';
import type { RabbitMqPublisher } from './rabbitmq.publisher';

/** What a startup has opened so far (for the timeout message). */
export interface StartupState {
  publisherConnection?: RabbitMqConnection;
  consumerConnection?: RabbitMqConnection;
  publisher?: RabbitMqPublisher;
}

/** The error of a startup step that ran out of `startupTimeoutMs`, naming what is down. */
export function startupTimeoutError(
  maskedUrl: string,
  timeoutMs: number,
  what: string,
  state: StartupState | undefined,
): BrokerConnectionError {
  const up = (role: string, c?: RabbitMqConnection) => `${role} connection ${c?.isConnected() ? 'up' : 'down'}`;
  const channel = state?.publisher?.isReady() ? 'open' : 'not open';
  return new BrokerConnectionError(
    maskedUrl,
    `${what} did not finish within ${timeoutMs} ms (rabbitmq.startupTimeoutMs): ` +
      `${up('publisher', state?.publisherConnection)}, ${up('consumer', state?.consumerConnection)}, publish channel ${channel}`,
  );
}

/** How one startup step is retried (see `retryStartupStep`). */
export interface StartupRetry {
  /** Epoch ms after which the step fails. */
  until: number;
  /** What the step does, for the log line of a retry. */
  what: string;
  /** The error when `until` passes first (naming what is down). */
  timeoutError: () => Error;
  /**
   * Whether another try cannot mend this failure, beyond what never can (a startup timeout, a
   * topology mismatch, a configuration error).
   */
  isFinal?: (error: unknown) => boolean;
  /** Whether to stop trying now (the transport is closing, say). */
  stop?: () => boolean;
  /** Pause between tries. */
  delayMs: number;
  /** Logs a retry; `reason` is the failure's message. */
  warn: (reason: string) => void;
}

/**
 * Runs a startup step, again after a failure caused by a dropped connection (it heals by itself),
 * until `retry.until`: then, or on a final failure, it throws. The transport's startup and the
 * request/reply channels of routed queries both start this way.
 */
export async function retryStartupStep<T>(retry: StartupRetry, work: () => Promise<T>): Promise<T> {
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const attempt = work();
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(retry.timeoutError()), Math.max(0, retry.until - Date.now()));
    });
    try {
      return await Promise.race([attempt, late]);
    } catch (err) {
      attempt.catch(() => undefined);
      const final =
        err instanceof BrokerConnectionError ||
        err instanceof TopologyMismatchError ||
        err instanceof InvalidConfigurationError ||
        retry.isFinal?.(err) === true;
      if (final || retry.stop?.() || Date.now() >= retry.until) throw err;
      retry.warn(String((err as Error)?.message ?? err));
      await sleep(retry.delayMs);
    } finally {
      clearTimeout(timer);
    }
  }
}
