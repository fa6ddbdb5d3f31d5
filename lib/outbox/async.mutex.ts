/** A minimal FIFO async mutex (one holder at a time). Not re-entrant. */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** Whether someone holds or waits for the mutex. */
  get locked(): boolean {
    return this.holders > 0;
  }

  /** Runs `work` once every earlier caller has finished. */
  run<R>(work: () => Promise<R>): Promise<R> {
    this.holders++;
    const result = this.tail.then(work);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.holders--;
    });
  }
}
