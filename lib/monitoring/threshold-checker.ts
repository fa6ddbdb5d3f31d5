import type { MessagingSnapshot } from './messaging-snapshot.interface';
import type { MonitoringThresholds, ThresholdBreach } from './monitoring-options.interface';

/**
 * The breaches of `thresholds` in a snapshot (without its own `breaches`): outbox age, dead-letter
 * depth, and per subscriber current lag and queue depth. A value equal to its limit is no breach.
 */
export function findBreaches(
  snapshot: Omit<MessagingSnapshot, 'breaches'>,
  thresholds: MonitoringThresholds,
): ThresholdBreach[] {
  const out: ThresholdBreach[] = [];
  const { maxOutboxAgeMs, maxDeadLetters, maxConsumerLagMs, maxQueueDepth } = thresholds;
  const age = snapshot.outbox?.oldestPendingAgeMs;
  if (maxOutboxAgeMs !== undefined && age !== undefined && age > maxOutboxAgeMs) {
    out.push({
      threshold: 'maxOutboxAgeMs',
      value: age,
      limit: maxOutboxAgeMs,
      message: `oldest due outbox row is ${Math.round(age)} ms old (limit ${maxOutboxAgeMs} ms)`,
    });
  }
  const dlq = snapshot.deadLetterQueue.depth;
  if (maxDeadLetters !== undefined && dlq !== undefined && dlq > maxDeadLetters) {
    out.push({
      threshold: 'maxDeadLetters',
      value: dlq,
      limit: maxDeadLetters,
      message: `${dlq} message(s) in the dead-letter queue (limit ${maxDeadLetters})`,
    });
  }
  for (const s of snapshot.subscribers) {
    if (maxConsumerLagMs !== undefined && s.currentLagMs > maxConsumerLagMs) {
      out.push({
        threshold: 'maxConsumerLagMs',
        subscriber: s.subscriber,
        value: s.currentLagMs,
        limit: maxConsumerLagMs,
        message: `subscriber ${s.subscriber} lags ${Math.round(s.currentLagMs)} ms (limit ${maxConsumerLagMs} ms)`,
      });
    }
    const depth = s.queue?.depth;
    if (maxQueueDepth !== undefined && depth !== undefined && depth > maxQueueDepth) {
      out.push({
        threshold: 'maxQueueDepth',
        subscriber: s.subscriber,
        value: depth,
        limit: maxQueueDepth,
        message: `queue of ${s.subscriber} holds ${depth} message(s) (limit ${maxQueueDepth})`,
      });
    }
  }
  return out;
}

/** A stable key of a breach (threshold + subscriber), to tell new breaches from ongoing ones. */
export function breachKey(b: ThresholdBreach): string {
  return b.subscriber === undefined ? b.threshold : `${b.threshold}:${b.subscriber}`;
}
