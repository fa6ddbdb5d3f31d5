import { HandlerTimeoutError } from '../errors/handler-timeout.error';

/** Whether `value` is a promise-like (a handler that did not finish synchronously). @internal */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Settles like `work`, or rejects with `HandlerTimeoutError` `timeoutMs` from now. */
export function withTimeout<T>(subscriber: string, timeoutMs: number, work: PromiseLike<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new HandlerTimeoutError(subscriber, timeoutMs)), timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
