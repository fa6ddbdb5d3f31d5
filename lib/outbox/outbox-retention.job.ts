import type { LoggerService } from '@nestjs/common';
import type { OutboxRetentionOptions } from './outbox-options.interface';
import { errorText, type OutboxStore } from './outbox.store';

/** Rows deleted by one cleanup run. */
export interface RetentionResult {
  /** Sent outbox rows deleted. */
  sent: number;
  /** Inbox rows deleted. */
  processed: number;
}

/**
 * Deletes sent outbox rows older than `sentMs` and inbox rows older than `inboxMs`, in batches
 * of `batchSize` (short statements, no long locks), every `intervalMs`. Pending and failed
 * outbox rows are never deleted.
 */
export class OutboxRetentionJob {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = true;
  private interrupted = false;

  constructor(
    private readonly store: OutboxStore,
    private readonly options: Required<OutboxRetentionOptions>,
    private readonly logger: LoggerService,
  ) {}

  /** Schedules the cleanup (first run after one interval). */
  start(): void {
    if (!this.options.enabled || !this.stopped) return;
    this.stopped = false;
    this.interrupted = false;
    this.schedule();
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs one cleanup now. */
  async runOnce(): Promise<RetentionResult> {
    const { batchSize, sentMs, inboxMs } = this.options;
    const result: RetentionResult = { sent: 0, processed: 0 };
    for (;;) {
      const n = await this.store.deleteSent(sentMs, batchSize);
      result.sent += n;
      if (n < batchSize || this.interrupted) break;
    }
    for (;;) {
      const n = await this.store.deleteProcessed(inboxMs, batchSize);
      result.processed += n;
      if (n < batchSize || this.interrupted) break;
    }
    return result;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then((r) => {
          if (r.sent + r.processed > 0) {
            this.logger.log(`outbox cleanup deleted ${r.sent} sent row(s) and ${r.processed} inbox row(s)`);
          }
        })
        .catch((error) => this.logger.error(`outbox cleanup failed: ${errorText(error)}`))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.options.intervalMs);
    this.timer.unref?.();
  }
}
