import { Logger } from '@nestjs/common';
import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { MessagingAlert, MessagingAlertHook, ThresholdBreach } from './monitoring-options.interface';
import { breachKey } from './threshold-checker';
import type { DeadLetterAlertGroup } from './dead-letters/failure-group-tracker';

/**
 * Calls the alert hook: once per dead letter, and for thresholds only on change — `firing` when a
 * breach appears, `resolved` when it is gone — so a check every 30 s does not page every 30 s.
 * Hook errors are logged and swallowed.
 */
export class AlertNotifier {
  private readonly logger = new Logger('MessagingAlerts');
  private active = new Map<string, ThresholdBreach>();

  constructor(
    private readonly service: string,
    private readonly hook: MessagingAlertHook | undefined,
  ) {}

  /** Whether a hook is wired. */
  get enabled(): boolean {
    return this.hook !== undefined;
  }

  /** Reports a dead letter of failure group `group`. */
  deadLettered(deadLetter: DeadLetter, group: DeadLetterAlertGroup): void {
    this.emit({
      kind: 'dead-letter',
      service: this.service,
      subscriber: deadLetter.subscriber,
      error: deadLetter.error,
      deadLetter,
      group,
    });
  }

  /** Compares the breaches of a check with the previous ones and reports the changes. */
  update(breaches: ThresholdBreach[]): void {
    const next = new Map(breaches.map((b) => [breachKey(b), b]));
    for (const [key, b] of next) {
      if (!this.active.has(key)) this.emit({ kind: 'threshold', service: this.service, state: 'firing', breach: b });
    }
    for (const [key, b] of this.active) {
      if (!next.has(key)) this.emit({ kind: 'threshold', service: this.service, state: 'resolved', breach: b });
    }
    this.active = next;
  }

  private emit(alert: MessagingAlert): void {
    const hook = this.hook;
    if (!hook) return;
    try {
      Promise.resolve(hook(alert)).catch((err) =>
        this.logger.error(`alert hook failed: ${(err as Error)?.message ?? err}`),
      );
    } catch (err) {
      this.logger.error(`alert hook failed: ${(err as Error)?.message ?? err}`);
    }
  }
}
