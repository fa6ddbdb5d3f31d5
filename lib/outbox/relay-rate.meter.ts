const WINDOW_S = 60;

/** Counts relay batches and published/failed rows over a sliding window of 60 one-second buckets. */
export class RelayRateMeter {
  private readonly batches = new Float64Array(WINDOW_S);
  private readonly published = new Float64Array(WINDOW_S);
  private readonly failed = new Float64Array(WINDOW_S);
  private readonly startedAt = Date.now();
  private bucketSecond = Math.floor(Date.now() / 1000);
  /** Totals since start. */
  readonly totals = { batches: 0, published: 0, failed: 0, gaveUp: 0 };

  /** Records one non-empty batch. */
  record(published: number, failed: number, gaveUp: number): void {
    const i = this.advance();
    this.batches[i] += 1;
    this.published[i] += published;
    this.failed[i] += failed;
    this.totals.batches += 1;
    this.totals.published += published;
    this.totals.failed += failed;
    this.totals.gaveUp += gaveUp;
  }

  /** Rates per second over the last minute (or since start, when younger). */
  rates(): { batchesPerSecond: number; publishedPerSecond: number; failedPerSecond: number } {
    this.advance();
    const span = Math.max(1, Math.min(WINDOW_S, (Date.now() - this.startedAt) / 1000));
    const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
    return {
      batchesPerSecond: sum(this.batches) / span,
      publishedPerSecond: sum(this.published) / span,
      failedPerSecond: sum(this.failed) / span,
    };
  }

  private advance(): number {
    const second = Math.floor(Date.now() / 1000);
    const steps = Math.min(WINDOW_S, second - this.bucketSecond);
    for (let k = 1; k <= steps; k++) {
      const i = (this.bucketSecond + k) % WINDOW_S;
      this.batches[i] = 0;
      this.published[i] = 0;
      this.failed[i] = 0;
    }
    if (second > this.bucketSecond) this.bucketSecond = second;
    return this.bucketSecond % WINDOW_S;
  }
}
