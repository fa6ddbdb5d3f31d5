import 'reflect-metadata';
import {
  AggregateRoot,
  CommandBus as CqrsCommandBus,
  CommandHandler as CqrsCommandHandler,
  CqrsModule,
  EventPublisher,
  EventsHandler as CqrsEventsHandler,
} from '@nestjs/cqrs';
import { IsInt, Min } from 'class-validator';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Test, type TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { DeadLetterService, EventBus, Message, MessagingModule, createMessagingEntities } from '../../lib';
import { TEST_DATABASE_URL } from '../setup/services';
import { waitFor } from '../setup/wait';
import { dropAll, pgDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';
import { TEST_AMQP_URL, cleanup, runId } from '../rabbitmq/rabbitmq-test.helpers';
import {
  CursedItemAuditor,
  DropAncientItemCommand,
  HeroFoundItemEvent,
  HeroesGame,
  HeroesTrace,
  canonical,
} from './heroes.app';
import { LinesLogger, expectedRound, playRound, startHeroes } from './heroes.helpers';

/**
 * The heroes app made durable by its module alone: RabbitMQ, the PostgreSQL outbox and inbox, and
 * `outbox.transactionalCommands` so that cqrs command handlers (whose decorator has no option)
 * run in a transaction and `AggregateRoot.commit()` writes the outbox in it.
 */
const run = runId();
const SERVICE = `${run}-heroes`;
const tables = uniqueTables('heroes');
const { outboxTable, inboxTable } = tables;
/** An event with validation rules: publishing it awaits the validator before the outbox insert. */
@Message('heroes.LevelUp')
class LevelUp {
  @IsInt() @Min(1) level!: number;
  constructor(
    readonly heroId: string,
    level: number,
  ) {
    this.level = level;
  }
}
class LevelUpCommand {
  constructor(
    readonly heroId: string,
    readonly levels: number[],
  ) {}
}
class Leveling extends AggregateRoot {}
/** Applies one validated event per level and commits without awaiting anything (as cqrs code does). */
@CqrsCommandHandler(LevelUpCommand)
class LevelUpHandler {
  constructor(private readonly publisher: EventPublisher) {}
  async execute(command: LevelUpCommand): Promise<void> {
    const hero = this.publisher.mergeObjectContext(new Leveling());
    for (const level of command.levels) hero.apply(new LevelUp(command.heroId, level));
    hero.commit();
  }
}

/** A cqrs event handler that, inside its inbox transaction, applies validated events and commit()s without awaiting. */
@CqrsEventsHandler(HeroFoundItemEvent)
class TrainingHandler {
  constructor(private readonly publisher: EventPublisher) {}
  handle(event: HeroFoundItemEvent): void {
    if (!event.itemId.startsWith('training-')) return;
    const hero = this.publisher.mergeObjectContext(new Leveling());
    const upTo = Number(event.itemId.slice('training-'.length));
    for (let level = 1; level <= upTo; level++) hero.apply(new LevelUp(event.heroId, level));
    hero.commit();
  }
}

const SUBSCRIBERS = [
  'HeroKilledDragonHandler',
  'HeroFoundItemHandler',
  'CursedItemAuditor',
  'TrainingHandler',
  'cqrs.sagas',
];

describe('heroes app: CqrsModule → MessagingModule.forCqrs, durable (RabbitMQ + PostgreSQL outbox/inbox)', () => {
  let ds: DataSource;
  let app: TestingModule;
  const logger = new LinesLogger();

  beforeAll(async () => {
    ds = await pgDataSource(tables, 2);
    app = await startHeroes(
      [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: TEST_DATABASE_URL,
          poolSize: 6,
          entities: createMessagingEntities({ database: 'postgres', outboxTable, inboxTable }),
        }),
        MessagingModule.forCqrs({
          serviceName: SERVICE,
          transport: 'rabbitmq',
          rabbitmq: { url: TEST_AMQP_URL, exchange: `${run}.events`, reconnectDelayMs: 200 },
          outbox: { outboxTable, inboxTable, pollIntervalMs: 50, transactionalCommands: true },
          retry: { maxRetries: 2, initialDelayMs: 50, multiplier: 1, jitter: 0 },
        }),
      ],
      [CursedItemAuditor, LevelUpHandler, TrainingHandler],
      logger,
    );
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    const queues = SUBSCRIBERS.map((s) => `${SERVICE}.${s}`);
    queues.push(`${SERVICE}.dead-letter`, `${SERVICE}.retry.50ms`);
    queues.push(`${run}-arena.dead-letter`);
    await cleanup(run, queues, [`${run}.events`, `${SERVICE}.retry`, `${run}-arena.retry`]);
    await dropAll(ds, tables);
  }, 30_000);

  const outboxRows = async (): Promise<Array<{ type: string; status: string; payload: string }>> =>
    ds.query(`SELECT type, status, payload FROM "${tables.outboxTable}" ORDER BY id`);

  it('leaves the same trace and query answer as CqrsModule, every event through the outbox and every handler in its inbox', async () => {
    const reference = await startHeroes([CqrsModule.forRoot()]);
    try {
      await playRound(reference, 'hero-1');
      expect(canonical(reference.get(HeroesTrace).entries)).toEqual(expectedRound('hero-1'));
    } finally {
      await reference.close();
    }

    const heroes = await playRound(app, 'hero-1', 20_000);
    const trace = app.get(HeroesTrace);
    expect(canonical(trace.entries)).toEqual(expectedRound('hero-1'));
    expect(heroes).toEqual([{ id: 'hero-1', dragons: ['dragon-of-hero-1'], items: ['ancient-sword'] }]);

    // both events were written to the outbox, in their command's transaction, and relayed
    await waitFor(async () => (await outboxRows()).every((r) => r.status === 'sent'), 'outbox rows sent');
    const rows = await outboxRows();
    expect(rows.map((r) => r.type)).toEqual(['HeroKilledDragonEvent', 'heroes.HeroFoundItem']);
    const meta = Object.fromEntries(trace.meta.map((m) => [m.step, m]));
    expect(meta.KillDragonHandler.transaction).toBe(true);
    expect(meta.DropAncientItemHandler.transaction).toBe(true);
    expect(meta.HeroKilledDragonHandler.transaction).toBe(true); // inbox
    expect(JSON.parse(rows[0].payload)).toMatchObject({
      id: meta.HeroKilledDragonHandler.id,
      causationid: meta.KillDragonHandler.id,
    });
    expect(meta.DropAncientItemHandler.causationId).toBe(meta.HeroKilledDragonHandler.id);

    // every subscriber, the sagas' included, recorded the events it handled in the inbox
    const handledBy = async () => {
      const inbox: Array<{ subscriber: string }> = await ds.query(`SELECT subscriber FROM "${inboxTable}"`);
      return [...new Set(inbox.map((r) => r.subscriber.slice(SERVICE.length + 1)))].sort();
    };
    await waitFor(async () => (await handledBy()).length === 5, 'five subscribers in the inbox');
    expect(await handledBy()).toEqual([
      'CursedItemAuditor',
      'HeroFoundItemHandler',
      'HeroKilledDragonHandler',
      'TrainingHandler',
      'cqrs.sagas',
    ]);
    expect(logger.lines).toContainEqual(expect.stringMatching(/^warn event types derived from class names/));
  }, 40_000);

  it('a command that commit()s and then fails publishes nothing: its events roll back with its transaction', async () => {
    const before = (await outboxRows()).length;
    await expect(app.get(HeroesGame).riskyQuest('hero-r')).rejects.toThrow('the quest failed after commit()');
    // a later command's event overtakes where the rolled-back one would have been
    await app.get(CqrsCommandBus).execute(new DropAncientItemCommand('hero-r', 'after-the-quest'));
    const trace = app.get(HeroesTrace);
    await waitFor(
      () => trace.entries.some((e) => e.step === 'HeroFoundItemHandler' && e.data.itemId === 'after-the-quest'),
      'the later event',
      20_000,
    );
    const rows = await outboxRows();
    expect(rows.slice(before).map((r) => JSON.parse(r.payload).data.itemId)).toEqual(['after-the-quest']);
    expect(trace.entries.filter((e) => e.data.itemId === 'risky-loot')).toEqual([]);
  }, 30_000);

  it('a failing @EventsHandler is retried, dead-lettered on the broker and reported once on the UnhandledExceptionBus', async () => {
    await app.get(CqrsCommandBus).execute(new DropAncientItemCommand('hero-c', 'cursed'));
    const dead = app.get(DeadLetterService);
    await waitFor(
      async () => (await dead.list({ subscriber: 'CursedItemAuditor' })).length === 1,
      'the dead letter',
      20_000,
    );
    const [letter] = await dead.list({ subscriber: 'CursedItemAuditor' });
    expect(letter).toMatchObject({ attempts: 3, type: 'heroes.HeroFoundItem' });
    expect(letter.error.message).toBe('cursed item found by hero-c');
    expect(app.get(CursedItemAuditor).attempts).toBe(3);
    await waitFor(() => app.get(HeroesTrace).unhandled.length === 1, 'the unhandled exception');
    expect(app.get(HeroesTrace).unhandled).toEqual(['cursed item found by hero-c']);
    // the healthy handler of that event ran once
    const found = app.get(HeroesTrace).entries.filter((e) => e.data.itemId === 'cursed');
    expect(found.map((e) => e.step)).toEqual(['DropAncientItemHandler', 'HeroFoundItemHandler']);
  }, 30_000);

  it('events commit() publishes without awaiting are written before the transaction commits, or it rolls back', async () => {
    await app.get(CqrsCommandBus).execute(new LevelUpCommand('hero-l', [2, 3]));
    const levels = async () =>
      (await outboxRows()).filter((r) => r.type === 'heroes.LevelUp').map((r) => JSON.parse(r.payload).data.level);
    expect(await levels()).toEqual([2, 3]); // written when execute resolved: inside the command's transaction
    // an invalid one fails the publish, so the transaction and the command: nothing of it is written
    await expect(app.get(CqrsCommandBus).execute(new LevelUpCommand('hero-l', [4, 0]))).rejects.toThrow(
      /heroes\.LevelUp/,
    );
    expect(await levels()).toEqual([2, 3]);
    // the same from an @EventsHandler, inside its inbox transaction: committed with its inbox row
    const inboxed = async (): Promise<number> =>
      (
        await ds.query(`SELECT count(*)::int AS n FROM "${inboxTable}" WHERE subscriber = $1`, [
          `${SERVICE}.TrainingHandler`,
        ])
      )[0].n;
    const before = await inboxed();
    await app.get(CqrsCommandBus).execute(new DropAncientItemCommand('hero-t', 'training-40'));
    await waitFor(async () => (await inboxed()) > before, 'the training handled', 20_000);
    expect(await levels()).toEqual([2, 3, ...Array.from({ length: 40 }, (_, i) => i + 1)]);
  }, 30_000);

  it('an event received from another service over the broker reaches the saga and the handler like a local one', async () => {
    const other = await Test.createTestingModule({
      imports: [
        MessagingModule.forRoot({
          serviceName: `${run}-arena`,
          transport: 'rabbitmq',
          rabbitmq: { url: TEST_AMQP_URL, exchange: `${run}.events`, reconnectDelayMs: 200 },
        }),
      ],
    })
      .setLogger(new LinesLogger())
      .compile();
    await other.init();
    try {
      // the arena service has no class for it: it publishes the type by name
      await other.get(EventBus).publish({ type: 'HeroKilledDragonEvent', heroId: 'hero-a', dragonId: 'arena-dragon' });
      const trace = app.get(HeroesTrace);
      await waitFor(
        () => trace.entries.some((e) => e.step === 'HeroFoundItemHandler' && e.data.heroId === 'hero-a'),
        "the saga's follow-up of the remote event",
        20_000,
      );
      const steps = trace.entries.filter((e) => e.data.heroId === 'hero-a');
      expect(steps.map((e) => [e.step, e.argument, e.instanceOfItsClass]).sort()).toEqual(
        [
          ['HeroKilledDragonHandler', 'HeroKilledDragonEvent', true],
          ['HeroesGameSagas.dragonKilled', 'HeroKilledDragonEvent', true],
          ['DropAncientItemHandler', 'DropAncientItemCommand', true],
          ['HeroFoundItemHandler', 'HeroFoundItemEvent', true],
        ].sort(),
      );
      const meta = trace.meta.filter((m) => steps.some((e) => e.step === m.step));
      const remote = meta.find((m) => m.step === 'HeroesGameSagas.dragonKilled' && m.causationId === undefined);
      expect(remote).toBeDefined();
      const drop = trace.meta.filter((m) => m.step === 'DropAncientItemHandler' && m.causationId === remote!.id);
      expect(drop).toHaveLength(1);
    } finally {
      await other.close();
    }
  }, 30_000);
});
