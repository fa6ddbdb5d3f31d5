/**
 * Publishes started inside a transaction without being awaited there (`AggregateRoot.commit()` of
 * `@nestjs/cqrs` does not wait for its events): the owner of the transaction (the transaction
 * runner, the inbox) settles them before it commits, so their outbox rows commit with the work,
 * and a publish that failed rolls the transaction back instead of being lost.
 * @internal
 */
const pending = new WeakMap<object, Set<Promise<unknown>>>();

/** Records `publish` as work `transaction` must settle before it commits. */
export function trackPendingPublish(transaction: unknown, publish: Promise<unknown>): void {
  if (transaction === null || typeof transaction !== 'object') return;
  let set = pending.get(transaction);
  if (set === undefined) pending.set(transaction, (set = new Set()));
  set.add(publish);
  const forget = () => set.delete(publish);
  publish.then(forget, forget);
}

/**
 * Waits for every publish tracked on `transaction` (and those they start in turn); rejects with
 * the first failure. Undefined when there are none (the common case costs no promise).
 */
export function settlePendingPublishes(transaction: unknown): Promise<void> | undefined {
  if (transaction === null || typeof transaction !== 'object') return undefined;
  const set = pending.get(transaction);
  if (set === undefined || set.size === 0) return undefined;
  return Promise.all([...set]).then(() => settlePendingPublishes(transaction));
}
