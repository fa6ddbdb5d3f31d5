import 'reflect-metadata';
import { Injectable, Scope } from '@nestjs/common';
import {
  AggregateRoot,
  CommandBus as CqrsCommandBus,
  CqrsModule,
  EventBus as CqrsEventBus,
  EventsHandler as CqrsEventsHandler,
  ofType,
  Publishable,
  Saga,
  type ICommand,
} from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { type Observable, map } from 'rxjs';
import {
  CommandHandler,
  InvalidConfigurationError,
  MessagingModule,
  MessagingTestHarness,
  MessagingTestingModule,
  MissingDependencyError,
} from '../../lib';
import { waitFor } from '../setup/wait';
import {
  CursedItemAuditor,
  DropAncientItemCommand,
  HeroFoundItemEvent,
  HeroesGame,
  HeroesTrace,
  canonical,
} from './heroes.app';
import { LinesLogger, expectedRound, playRound, startHeroes } from './heroes.helpers';

const apps: TestingModule[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
async function start(...args: Parameters<typeof startHeroes>): Promise<TestingModule> {
  const app = await startHeroes(...args);
  apps.push(app);
  return app;
}
const dropCursed = (app: TestingModule, heroId: string) =>
  app.get(CqrsCommandBus).execute(new DropAncientItemCommand(heroId, 'cursed'));

describe('a failing @EventsHandler', () => {
  it('under CqrsModule: one call, one UnhandledExceptionBus entry', async () => {
    const app = await start([CqrsModule.forRoot()], [CursedItemAuditor]);
    await dropCursed(app, 'hero-c');
    await waitFor(() => app.get(HeroesTrace).unhandled.length === 1, 'the unhandled exception');
    expect(app.get(CursedItemAuditor).attempts).toBe(1);
    expect(app.get(HeroesTrace).unhandled).toEqual(['cursed item found by hero-c']);
  });

  it('under forCqrs: retried, dead-lettered, then one UnhandledExceptionBus entry; the other handler unaffected', async () => {
    const app = await start(
      [MessagingTestingModule.forRoot({ serviceName: 'heroes', cqrs: true, retry: { maxRetries: 2 } })],
      [CursedItemAuditor],
    );
    await dropCursed(app, 'hero-c');
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    expect(app.get(CursedItemAuditor).attempts).toBe(3);
    const dead = harness.deadLettered(HeroFoundItemEvent, 'CursedItemAuditor');
    expect(dead.map((d) => [d.attempts, d.error.message])).toEqual([[3, 'cursed item found by hero-c']]);
    expect(app.get(HeroesTrace).unhandled).toEqual(['cursed item found by hero-c']);
    // the healthy handler of the same event ran once
    expect(app.get(HeroesTrace).entries.filter((e) => e.step === 'HeroFoundItemHandler')).toHaveLength(1);
  });
});

class Explode {
  constructor(readonly reason: string) {}
}
@CommandHandler(Explode)
class ExplodeHandler {
  calls = 0;
  async execute(command: Explode): Promise<void> {
    this.calls++;
    throw new Error(`exploded: ${command.reason}`);
  }
}

/** A saga whose stream throws on a cursed item. */
@Injectable()
class BrittleSaga {
  seen: string[] = [];
  @Saga()
  brittle = (events$: Observable<object>): Observable<ICommand | null> =>
    events$.pipe(
      ofType(HeroFoundItemEvent),
      map((event) => {
        this.seen.push(event.itemId);
        if (event.itemId === 'cursed') throw new Error('the saga broke');
        return null;
      }),
    );
}

/** A saga that maps every found item at once to a failing command. */
@Injectable()
class InstantSaga {
  @Saga()
  instant = (events$: Observable<object>): Observable<ICommand> =>
    events$.pipe(
      ofType(HeroFoundItemEvent),
      map((event) => new Explode(event.itemId)),
    );
}

describe('sagas and retries', () => {
  it('a saga that throws fails the delivery (retried, dead-lettered), is reported, and keeps receiving events', async () => {
    const app = await start(
      [MessagingTestingModule.forRoot({ serviceName: 'heroes', cqrs: true, retry: { maxRetries: 1 } })],
      [BrittleSaga],
    );
    await dropCursed(app, 'hero-s');
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    const dead = harness.deadLettered(HeroFoundItemEvent, 'cqrs.sagas');
    expect(dead).toHaveLength(1);
    expect(dead[0].attempts).toBe(2);
    expect(app.get(BrittleSaga).seen).toEqual(['cursed', 'cursed']);
    // built again after throwing: the next event still reaches it
    await playRound(app, 'hero-t');
    await harness.whenIdle();
    expect(app.get(BrittleSaga).seen).toEqual(['cursed', 'cursed', 'ancient-sword']);
    expect(app.get(HeroesTrace).unhandled).toEqual(['the saga broke']); // once, at the dead letter
  });

  it('a command a saga emits at once is part of the delivery: its failure retries the event', async () => {
    const app = await start(
      [MessagingTestingModule.forRoot({ serviceName: 'heroes', cqrs: true, retry: { maxRetries: 2 } })],
      [InstantSaga, ExplodeHandler],
    );
    await app.get(CqrsCommandBus).execute(new DropAncientItemCommand('hero-x', 'plain-item'));
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    expect(app.get(ExplodeHandler).calls).toBe(3);
    const dead = harness.deadLettered(HeroFoundItemEvent, 'cqrs.sagas');
    expect(dead.map((d) => d.error.message)).toEqual(['exploded: plain-item']);
    expect(app.get(HeroesTrace).unhandled).toEqual(['exploded: plain-item']); // once, at the dead letter
  });
});

class Ransom {
  constructor(readonly gold: number) {}
}

describe('@Publishable() aggregates', () => {
  it('publish through the messaging EventBus, as CqrsModule merges them', async () => {
    // declared here: cqrs merges each @Publishable() class once per process, into the next app to boot
    @Publishable()
    class Dragon extends AggregateRoot {
      demand(gold: number): void {
        this.apply(new Ransom(gold));
        this.commit();
      }
    }
    @CqrsEventsHandler(Ransom)
    class RansomHandler {
      seen: number[] = [];
      handle(event: Ransom) {
        this.seen.push(event.gold);
      }
    }
    const app = await start([MessagingTestingModule.forRoot({ serviceName: 'heroes', cqrs: true })], [RansomHandler]);
    new Dragon().demand(100);
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    expect(harness.published(Ransom).map((m) => m.data)).toEqual([{ gold: 100 }]);
    expect(app.get(RansomHandler).seen).toEqual([100]);
  });
});

describe("cqrs' EventBus as an Observable", () => {
  it('code subscribed to it at startup receives the events, without any saga, as under CqrsModule', async () => {
    @Injectable()
    class Watcher {
      readonly seen: string[] = [];
      constructor(events: CqrsEventBus) {
        events
          .pipe(ofType(HeroFoundItemEvent))
          .subscribe((e) => this.seen.push(`${e.heroId}:${e instanceof HeroFoundItemEvent}`));
      }
    }
    const watch = async (imports: Parameters<typeof startHeroes>[0]) => {
      const moduleRef = await Test.createTestingModule({ imports, providers: [Watcher] })
        .setLogger(new LinesLogger())
        .compile();
      await moduleRef.init();
      apps.push(moduleRef);
      await moduleRef.get(CqrsEventBus).publish(new HeroFoundItemEvent('w', 'gem'));
      await waitFor(() => moduleRef.get(Watcher).seen.length > 0, 'the watcher');
      return moduleRef.get(Watcher).seen;
    };
    expect(await watch([CqrsModule.forRoot()])).toEqual(['w:true']);
    expect(await watch([MessagingTestingModule.forRoot({ serviceName: 'w', cqrs: true })])).toEqual(['w:true']);
  });
});

class TreasureFound {
  constructor(readonly gold: number) {}
}

describe('never silent', () => {
  it('an event class unknown at startup, without @Message, is published by its class name and a warning says the sagas miss it', async () => {
    const logger = new LinesLogger();
    const app = await start([MessagingTestingModule.forRoot({ serviceName: 'heroes', cqrs: true })], [], logger);
    await app.get(CqrsEventBus).publish(new TreasureFound(10));
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    expect(harness.published('TreasureFound').map((m) => m.data)).toEqual([{ gold: 10 }]);
    const warnings = logger.lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toEqual([expect.stringContaining("add @Message('TreasureFound') to TreasureFound")]);
  });

  it('a derived event type is named in a startup warning when the transport is durable', async () => {
    const { InMemoryTransport } = await import('../../lib');
    class DurableMemory extends InMemoryTransport {
      override readonly capabilities = { ...new InMemoryTransport().capabilities, durable: true };
    }
    const logger = new LinesLogger();
    await start([MessagingModule.forCqrs({ serviceName: 'heroes', transport: new DurableMemory() })], [], logger);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/^warn event types derived from class names \(no @Message\): HeroKilledDragonEvent\./),
    );
  });

  it('beside CqrsModule, commands get metadata and a warning names each saga that no longer sees events', async () => {
    const logger = new LinesLogger();
    const app = await start([CqrsModule.forRoot(), MessagingModule.forRoot({ serviceName: 'heroes' })], [], logger);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/^warn @Saga HeroesGameSagas\.dragonKilled will not see events.*MessagingModule\.forCqrs/),
    );
    await app.get(HeroesGame).killDragon('hero-b', 'dragon-b');
    const trace = app.get(HeroesTrace);
    expect(trace.meta[0]).toMatchObject({ step: 'KillDragonHandler', correlationId: expect.any(String) });
  });

  it('registering a handler by hand on a cqrs bus is a warning naming it, not a quiet no-op', async () => {
    const logger = new LinesLogger();
    const app = await start([MessagingModule.forCqrs({ serviceName: 'heroes' })], [], logger);
    app.get(CqrsCommandBus).register([{ metatype: ExplodeHandler } as never]);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(
        /^warn CommandBus\.register\(ExplodeHandler\) is not supported under MessagingModule\.forCqrs\(\)/,
      ),
    );
  });

  it('CqrsModule imported beside forCqrs fails at startup, saying which to remove', async () => {
    await expect(start([CqrsModule.forRoot(), MessagingModule.forCqrs({ serviceName: 'heroes' })])).rejects.toThrow(
      new InvalidConfigurationError(
        'CqrsModule is imported beside MessagingModule.forCqrs(), which replaces it: remove CqrsModule.forRoot()',
      ),
    );
  });

  it('a request-scoped saga fails at startup, naming it', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class ScopedSagas {
      @Saga()
      s = (events$: Observable<object>) => events$.pipe(map(() => null));
    }
    await expect(start([MessagingModule.forCqrs({ serviceName: 'heroes' })], [ScopedSagas])).rejects.toThrow(
      new InvalidConfigurationError(
        'ScopedSagas has @Saga() but is request-scoped; sagas must be singleton providers (remove the scope)',
      ),
    );
  });

  it('a saga that returns no Observable fails at startup, naming it', async () => {
    @Injectable()
    class NotASaga {
      @Saga()
      wrong = () => 42;
    }
    await expect(start([MessagingModule.forCqrs({ serviceName: 'heroes' })], [NotASaga])).rejects.toThrow(
      /@Saga NotASaga\.wrong must return an Observable/,
    );
  });

  it('an @EventsHandler class whose name cannot be a type fails at startup, saying to add @Message', async () => {
    class Weird {}
    Object.defineProperty(Weird, 'name', { value: 'Weird Event' });
    @CqrsEventsHandler(Weird)
    class WeirdHandler {
      handle() {}
    }
    await expect(start([MessagingModule.forCqrs({ serviceName: 'heroes' })], [WeirdHandler])).rejects.toThrow(
      "@EventsHandler WeirdHandler handles class Weird Event, whose name cannot be a message type: add @Message('<type>') to it",
    );
  });

  // leaves a duplicate in the process-wide @Message registry: keep it after every other forCqrs boot
  it('two event classes deriving the same name fail at startup naming both (as two @Message would)', async () => {
    const make = () => {
      class Twin {}
      return Twin;
    };
    const [A, B] = [make(), make()];
    @CqrsEventsHandler(A)
    class TwinA {
      handle() {}
    }
    @CqrsEventsHandler(B)
    class TwinB {
      handle() {}
    }
    await expect(start([MessagingModule.forCqrs({ serviceName: 'heroes' })], [TwinA, TwinB])).rejects.toThrow(
      /@Message\('Twin'\) is declared by both Twin and Twin/,
    );
  });
});

describe('the same app under CqrsModule after all of the above', () => {
  it('still leaves the reference trace (the bridge changed nothing in cqrs itself)', async () => {
    const app = await start([CqrsModule.forRoot()]);
    await playRound(app, 'hero-z');
    expect(canonical(app.get(HeroesTrace).entries)).toEqual(expectedRound('hero-z'));
  });
});

describe('without @nestjs/cqrs installed', () => {
  it('forRoot works and forCqrs fails with MissingDependencyError naming the package', async () => {
    jest.doMock('@nestjs/cqrs', () => {
      const err = new Error("Cannot find module '@nestjs/cqrs'") as Error & { code: string };
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    });
    try {
      await jest.isolateModulesAsync(async () => {
        const lib = await import('../../lib');
        let error: unknown;
        try {
          lib.MessagingModule.forCqrs({ serviceName: 'x' });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(lib.MissingDependencyError);
        expect((error as Error).message).toBe(
          new MissingDependencyError('@nestjs/cqrs', 'MessagingModule.forCqrs()').message,
        );
        const { Test } = await import('@nestjs/testing');
        const app = await Test.createTestingModule({ imports: [lib.MessagingModule.forRoot({ serviceName: 'x' })] })
          .setLogger(new LinesLogger())
          .compile();
        await app.init();
        await app.close();
      });
    } finally {
      jest.dontMock('@nestjs/cqrs');
    }
  });
});
