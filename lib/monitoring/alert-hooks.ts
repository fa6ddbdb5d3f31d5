import { Logger, type LoggerService } from '@nestjs/common';
import type { MessagingAlert, MessagingAlertHook } from './monitoring-options.interface';

/** One line describing an alert: ids, subscriber, error or breach — never the payload. */
export function describeAlert(alert: MessagingAlert): string {
  if (alert.kind === 'dead-letter') {
    const dl = alert.deadLetter;
    return (
      `dead letter in ${alert.service}: ${alert.error.name}: ${alert.error.message} ` +
      `(id=${dl.messageId ?? '?'} type=${dl.type ?? '?'} subscriber=${alert.subscriber} ` +
      `correlationId=${dl.envelope?.correlationId ?? '?'} attempts=${dl.attempts} deadLetterId=${dl.id}` +
      (alert.group ? ` group=${alert.group.id} ${alert.group.state} count=${alert.group.count}` : '') +
      ')'
    );
  }
  return `${alert.state === 'firing' ? 'FIRING' : 'resolved'} ${alert.service}: ${alert.breach.message}`;
}

/** The alert as JSON-safe data without the message body or payload (for webhooks). */
export function alertPayload(alert: MessagingAlert): Record<string, unknown> {
  if (alert.kind === 'threshold') return { ...alert, text: describeAlert(alert) };
  const { body: _body, envelope, ...deadLetter } = alert.deadLetter;
  const meta = envelope ? { ...envelope, data: undefined } : undefined;
  return {
    kind: alert.kind,
    service: alert.service,
    subscriber: alert.subscriber,
    error: alert.error,
    group: alert.group,
    deadLetter: { ...deadLetter, envelope: meta },
    text: describeAlert(alert),
  };
}

/**
 * An alert hook that logs each alert as one line through Nest's `Logger` (or `logger`):
 * dead letters and firing breaches as errors, resolved breaches as logs.
 *
 * @example `MessagingModule.forRoot({ serviceName: 'orders', monitoring: { onAlert: logAlerts(), thresholds: { maxDeadLetters: 0 } } })`
 */
export function logAlerts(logger: LoggerService = new Logger('MessagingAlerts')): MessagingAlertHook {
  return (alert) => {
    const line = describeAlert(alert);
    if (alert.kind === 'threshold' && alert.state === 'resolved') logger.log(line);
    else logger.error(line);
  };
}

/** Options of `webhookAlerts`. */
export interface WebhookAlertOptions {
  /** Extra request headers (e.g. an authorization token). */
  headers?: Record<string, string>;
  /** Request timeout, ms. Default 5000. */
  timeoutMs?: number;
  /** Shapes the JSON body (e.g. `{ text }` for Slack). Default `alertPayload`. */
  body?: (alert: MessagingAlert) => unknown;
}

/**
 * An alert hook that POSTs each alert as JSON to `url` (Node's `fetch`). A failed request rejects,
 * which the monitor logs (without the URL's credentials).
 *
 * @example `onAlert: webhookAlerts(process.env.ALERT_WEBHOOK_URL!, { body: (a) => ({ text: describeAlert(a) }) })`
 */
export function webhookAlerts(url: string, options: WebhookAlertOptions = {}): MessagingAlertHook {
  const shape = options.body ?? alertPayload;
  return async (alert) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(shape(alert)),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`alert webhook answered HTTP ${res.status}`);
  };
}

/**
 * Passes on dead-letter alerts of a new failure group only (the first dead letter of a new
 * problem, see `DeadLetterAlertGroup.state`), and every threshold alert: alert once per new problem
 * instead of once per message. A dead-letter alert without a group (built by hand) is passed on:
 * it cannot be told to be a repeat.
 *
 * @example `onAlert: onlyNewFailureGroups(webhookAlerts(process.env.ALERT_WEBHOOK_URL!))`
 */
export function onlyNewFailureGroups(hook: MessagingAlertHook): MessagingAlertHook {
  return (alert) =>
    alert.kind === 'dead-letter' && alert.group && alert.group.state !== 'new' ? undefined : hook(alert);
}

/** Calls every hook (each one's failure is independent). */
export function combineAlertHooks(...hooks: MessagingAlertHook[]): MessagingAlertHook {
  return async (alert) => {
    const results = await Promise.allSettled(hooks.map(async (h) => h(alert)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
}
