import type { Logger } from '@nestjs/common';
import { Observable, defer, EMPTY, filter, mergeMap, type Subscription } from 'rxjs';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import {
  currentMessageContext,
  deriveMessageContext,
  runInMessageContext,
  type MessageContextState,
} from '../context/message-context';
import type { CommandBus } from '../buses/command.bus';

/** One `@Saga()` property or method: events in, commands out. */
export interface SagaEntry {
  /** `Class.property`, for logs and errors. */
  name: string;
  /** Builds the saga's command stream from the event stream. */
  build: (events$: Observable<object>) => unknown;
}

/** What `@nestjs/cqrs`' `UnhandledExceptionBus` takes. */
export interface UnhandledExceptionSink {
  publish(info: { cause: unknown; exception: unknown }): unknown;
}

/** Commands a saga emits while one delivery is being fed to the sagas. */
interface Collector {
  open: boolean;
  pending: Promise<unknown>[];
  errors: unknown[];
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Runs `@Saga()` streams from the messaging pipeline. `feed(event)` is the route of the sagas'
 * subscriber: the event goes into the stream every saga was built on, in the delivery's message
 * context. A command a saga emits while the event is being fed (no time operator in between) runs
 * in that context, joining the delivery's transaction, and the delivery waits for it: its failure
 * fails the delivery (retried, then dead-lettered). A command emitted later (after `delay(...)`,
 * a buffer) runs on its own, still caused by the event (same correlation, causation = the event's
 * id), and its failure goes, as in `@nestjs/cqrs`, to the log and the `UnhandledExceptionBus`.
 * A saga whose own stream throws fails the delivery the same way (or, after it, is reported like a
 * late command), and is built again, so it never stops receiving events.
 * @internal
 */
export class SagaRunner {
  private readonly sagas: SagaEntry[] = [];
  private readonly subscriptions = new Map<SagaEntry, Subscription>();
  private readonly collectors = new WeakMap<MessageContextState, Collector>();
  private stopped = false;

  constructor(
    private readonly events$: Observable<object> & { subject$: { next(event: object): void } },
    private readonly commands: CommandBus,
    private readonly unhandled: UnhandledExceptionSink,
    private readonly logger: Logger,
  ) {}

  /** Number of sagas. */
  get size(): number {
    return this.sagas.length;
  }

  /** Names of the sagas (`Class.property`). */
  get names(): string[] {
    return this.sagas.map((s) => s.name);
  }

  /** Adds a saga (before `start`). */
  add(entry: SagaEntry): void {
    this.sagas.push(entry);
  }

  /** Builds and subscribes every saga; throws naming a saga that does not return an Observable. */
  start(): void {
    this.stopped = false;
    for (const saga of this.sagas) this.subscribe(saga);
  }

  /** Unsubscribes every saga. */
  stop(): void {
    this.stopped = true;
    for (const s of this.subscriptions.values()) s.unsubscribe();
    this.subscriptions.clear();
  }

  /** Feeds one delivered event to every saga; settles once the commands it emitted at once did. */
  feed(event: object): void | Promise<void> {
    const state = currentMessageContext();
    const collector: Collector = { open: true, pending: [], errors: [] };
    if (state !== undefined) this.collectors.set(state, collector);
    try {
      this.events$.subject$.next(event);
    } finally {
      collector.open = false;
    }
    if (collector.errors.length > 0) {
      // commands another saga emitted for this event are settled first: none is left rejecting unheard
      const failed = collector.errors[0];
      if (collector.pending.length === 0) throw failed;
      return Promise.allSettled(collector.pending).then(() => {
        throw failed;
      });
    }
    if (collector.pending.length === 0) return;
    return Promise.all(collector.pending).then(() => undefined);
  }

  private subscribe(saga: SagaEntry): void {
    const stream$ = saga.build(this.events$);
    if (!(stream$ instanceof Observable)) {
      throw new InvalidConfigurationError(
        `@Saga ${saga.name} must return an Observable of commands (events$.pipe(ofType(...), map(...)))`,
      );
    }
    const subscription = (stream$ as Observable<unknown>)
      .pipe(
        filter((command) => !!command),
        mergeMap((command) => defer(() => this.execute(saga, command as object))),
      )
      .subscribe({
        error: (error: unknown) => {
          this.subscriptions.delete(saga);
          const collector = this.openCollector();
          this.logger.error(`Saga ${saga.name} threw: ${message(error)}; it is subscribed again`);
          // during a delivery the delivery fails (retried, then dead-lettered and reported once)
          if (collector) collector.errors.push(error);
          else this.unhandled.publish({ cause: saga.name, exception: error });
          if (!this.stopped) this.subscribe(saga);
        },
      });
    this.subscriptions.set(saga, subscription);
  }

  private openCollector(): Collector | undefined {
    const state = currentMessageContext();
    const collector = state === undefined ? undefined : this.collectors.get(state);
    return collector?.open ? collector : undefined;
  }

  /** Runs a command a saga emitted (see the class comment); never errors the saga's stream. */
  private execute(saga: SagaEntry, command: object): Observable<never> | Promise<void> {
    const collector = this.openCollector();
    if (collector) {
      collector.pending.push(this.commands.execute(command));
      return EMPTY;
    }
    const state = currentMessageContext();
    // after the delivery: its transaction is closed, its subscriber and attempt are not this command's
    const run = () => this.commands.execute(command);
    const result =
      state === undefined
        ? run()
        : runInMessageContext(
            deriveMessageContext(state, { transaction: undefined, subscriber: undefined, attempt: undefined }),
            run,
          );
    return result.then(
      () => undefined,
      (error: unknown) => {
        this.logger.error(
          `Saga ${saga.name}: command ${command.constructor?.name ?? 'object'} failed: ${message(error)}`,
        );
        this.unhandled.publish({ cause: command, exception: error });
      },
    );
  }
}
