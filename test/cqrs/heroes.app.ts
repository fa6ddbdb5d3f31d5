/**
 * A heroes-style `@nestjs/cqrs` application (the shape of Nest's CQRS sample, written here): a
 * service sends `KillDragonCommand` through cqrs' `CommandBus`; its handler loads a `Hero`
 * aggregate through `EventPublisher.mergeObjectContext`, which applies `HeroKilledDragonEvent` and
 * `commit()`s; an `@EventsHandler` records it; a `@Saga` maps it, after a delay, to
 * `DropAncientItemCommand`, whose handler (an aggregate class merged with `mergeClassContext`)
 * emits `HeroFoundItemEvent`; a query lists the heroes. Decorators come from both packages.
 *
 * The app does not know which module runs it (`CqrsModule` or `MessagingModule.forCqrs`): each
 * step appends to `HeroesTrace` what a user could observe (which handler ran, the class of its
 * argument, `instanceof`), and, beside it, the message metadata when there is some.
 */
import { Injectable } from '@nestjs/common';
import {
  AggregateRoot,
  Command,
  CommandBus,
  CommandHandler as CqrsCommandHandler,
  EventPublisher,
  EventsHandler as CqrsEventsHandler,
  type ICommand,
  type IEventHandler,
  ofType,
  Query,
  QueryBus,
  QueryHandler,
  Saga,
  UnhandledExceptionBus,
} from '@nestjs/cqrs';
import { type Observable, delay, map } from 'rxjs';
import { CommandHandler, EventsHandler, Message, currentMessageContext } from '../../lib';

export const ANCIENT_ITEM = 'ancient-sword';

/** No `@Message`: its type is derived from the class name under `MessagingModule.forCqrs`. */
export class HeroKilledDragonEvent {
  constructor(
    readonly heroId: string,
    readonly dragonId: string,
  ) {}
}

@Message('heroes.HeroFoundItem')
export class HeroFoundItemEvent {
  constructor(
    readonly heroId: string,
    readonly itemId: string,
  ) {}
}

export class KillDragonCommand extends Command<void> {
  constructor(
    readonly heroId: string,
    readonly dragonId: string,
  ) {
    super();
  }
}

export class DropAncientItemCommand {
  constructor(
    readonly heroId: string,
    readonly itemId: string,
  ) {}
}

/** Applies an event, commits, then fails: nothing it applied may be delivered when its transaction rolls back. */
export class RiskyQuestCommand {
  constructor(readonly heroId: string) {}
}

export interface HeroView {
  id: string;
  dragons: string[];
  items: string[];
}

export class GetHeroesQuery extends Query<HeroView[]> {}

export class Hero extends AggregateRoot {
  dragons: string[] = [];
  items: string[] = [];

  constructor(readonly id: string) {
    super();
  }

  killEnemy(dragonId: string): void {
    this.apply(new HeroKilledDragonEvent(this.id, dragonId));
  }

  addItem(itemId: string): void {
    this.apply(new HeroFoundItemEvent(this.id, itemId));
  }

  /** Called by `AggregateRoot.apply` (`on` + the event's class name). */
  onHeroKilledDragonEvent(event: HeroKilledDragonEvent): void {
    this.dragons.push(event.dragonId);
  }

  onHeroFoundItemEvent(event: HeroFoundItemEvent): void {
    this.items.push(event.itemId);
  }
}

/** One observable step of the game. */
export interface TraceEntry {
  step: string;
  argument: string;
  instanceOfItsClass: boolean;
  data: Record<string, unknown>;
}

/** Message metadata seen by a step (none under `CqrsModule`). */
export interface TraceMeta {
  step: string;
  id?: string;
  correlationId?: string;
  causationId?: string;
  transaction: boolean;
}

@Injectable()
export class HeroesTrace {
  readonly entries: TraceEntry[] = [];
  readonly meta: TraceMeta[] = [];
  readonly unhandled: string[] = [];

  record(step: string, argument: object, cls: Function): void {
    this.entries.push({
      step,
      argument: argument.constructor.name,
      instanceOfItsClass: argument instanceof cls,
      data: { ...argument },
    });
    const ctx = currentMessageContext();
    this.meta.push({
      step,
      id: ctx?.message?.id,
      correlationId: ctx?.correlationId,
      causationId: ctx?.message?.causationId,
      transaction: ctx?.transaction !== undefined,
    });
  }
}

@Injectable()
export class HeroRepository {
  private readonly heroes = new Map<string, { dragons: string[]; items: string[] }>();

  load<H extends Hero>(model: new (id: string) => H, id: string): H {
    const hero = new model(id);
    const stored = this.heroes.get(id);
    if (stored) Object.assign(hero, { dragons: [...stored.dragons], items: [...stored.items] });
    return hero;
  }

  save(hero: Hero): void {
    this.heroes.set(hero.id, { dragons: [...hero.dragons], items: [...hero.items] });
  }

  all(): HeroView[] {
    return [...this.heroes].map(([id, h]) => ({ id, dragons: [...h.dragons], items: [...h.items] }));
  }
}

/** What a controller would be: it injects cqrs' buses. */
@Injectable()
export class HeroesGame {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  killDragon(heroId: string, dragonId: string): Promise<void> {
    return this.commands.execute(new KillDragonCommand(heroId, dragonId));
  }

  riskyQuest(heroId: string): Promise<void> {
    return this.commands.execute(new RiskyQuestCommand(heroId));
  }

  heroes(): Promise<HeroView[]> {
    return this.queries.execute(new GetHeroesQuery());
  }
}

@CqrsCommandHandler(KillDragonCommand)
export class KillDragonHandler {
  constructor(
    private readonly repository: HeroRepository,
    private readonly publisher: EventPublisher,
    private readonly trace: HeroesTrace,
  ) {}

  async execute(command: KillDragonCommand): Promise<void> {
    this.trace.record('KillDragonHandler', command, KillDragonCommand);
    const hero = this.publisher.mergeObjectContext(this.repository.load(Hero, command.heroId));
    hero.killEnemy(command.dragonId);
    this.repository.save(hero);
    hero.commit();
  }
}

/** Our `@CommandHandler`, on an aggregate class merged with `mergeClassContext`. */
@CommandHandler(DropAncientItemCommand)
export class DropAncientItemHandler {
  constructor(
    private readonly repository: HeroRepository,
    private readonly publisher: EventPublisher,
    private readonly trace: HeroesTrace,
  ) {}

  async execute(command: DropAncientItemCommand): Promise<void> {
    this.trace.record('DropAncientItemHandler', command, DropAncientItemCommand);
    const hero = this.repository.load(this.publisher.mergeClassContext(Hero), command.heroId);
    hero.addItem(command.itemId);
    this.repository.save(hero);
    hero.commit();
  }
}

@CqrsCommandHandler(RiskyQuestCommand)
export class RiskyQuestHandler {
  constructor(private readonly publisher: EventPublisher) {}

  async execute(command: RiskyQuestCommand): Promise<void> {
    const hero = this.publisher.mergeObjectContext(new Hero(command.heroId));
    hero.addItem('risky-loot');
    hero.commit();
    throw new Error('the quest failed after commit()');
  }
}

@CqrsEventsHandler(HeroKilledDragonEvent)
export class HeroKilledDragonHandler implements IEventHandler<HeroKilledDragonEvent> {
  constructor(private readonly trace: HeroesTrace) {}

  handle(event: HeroKilledDragonEvent): void {
    this.trace.record('HeroKilledDragonHandler', event, HeroKilledDragonEvent);
  }
}

/** Our `@EventsHandler`. */
@EventsHandler(HeroFoundItemEvent)
export class HeroFoundItemHandler implements IEventHandler<HeroFoundItemEvent> {
  constructor(private readonly trace: HeroesTrace) {}

  handle(event: HeroFoundItemEvent): void {
    this.trace.record('HeroFoundItemHandler', event, HeroFoundItemEvent);
  }
}

@Injectable()
export class HeroesGameSagas {
  constructor(private readonly trace: HeroesTrace) {}

  @Saga()
  dragonKilled = (events$: Observable<object>): Observable<ICommand> =>
    events$.pipe(
      ofType(HeroKilledDragonEvent),
      delay(20),
      map((event) => {
        this.trace.record('HeroesGameSagas.dragonKilled', event, HeroKilledDragonEvent);
        return new DropAncientItemCommand(event.heroId, ANCIENT_ITEM);
      }),
    );
}

@QueryHandler(GetHeroesQuery)
export class GetHeroesHandler {
  constructor(private readonly repository: HeroRepository) {}

  async execute(): Promise<HeroView[]> {
    return this.repository.all();
  }
}

/** Listens on cqrs' `UnhandledExceptionBus`, as an app would for alerts. */
@Injectable()
export class HeroesAlerts {
  constructor(unhandled: UnhandledExceptionBus, trace: HeroesTrace) {
    unhandled.subscribe((info) => trace.unhandled.push(String((info.exception as Error)?.message)));
  }
}

/** Fails on a cursed item, every time: retried, then dead-lettered (only where a test adds it). */
@CqrsEventsHandler(HeroFoundItemEvent)
export class CursedItemAuditor implements IEventHandler<HeroFoundItemEvent> {
  attempts = 0;

  handle(event: HeroFoundItemEvent): void {
    if (event.itemId !== 'cursed') return;
    this.attempts++;
    throw new Error(`cursed item found by ${event.heroId}`);
  }
}

/** The app's providers (what its module would list). */
export const HEROES_PROVIDERS = [
  HeroesTrace,
  HeroRepository,
  HeroesGame,
  KillDragonHandler,
  DropAncientItemHandler,
  RiskyQuestHandler,
  HeroKilledDragonHandler,
  HeroFoundItemHandler,
  HeroesGameSagas,
  GetHeroesHandler,
  HeroesAlerts,
];

/** The trace in a canonical order (handler and saga of one event run in either order). */
export function canonical(entries: TraceEntry[]): string[] {
  return entries.map((e) => JSON.stringify(e)).sort();
}
