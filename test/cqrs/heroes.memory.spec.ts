import 'reflect-metadata';
import { CqrsModule } from '@nestjs/cqrs';
import type { TestingModule } from '@nestjs/testing';
import { MessagingModule, MessagingTestHarness, MessagingTestingModule } from '../../lib';
import { HeroFoundItemEvent, HeroKilledDragonEvent, HeroesGame, HeroesTrace, canonical } from './heroes.app';
import { LinesLogger, expectedRound, playRound, startHeroes } from './heroes.helpers';

describe('heroes app: CqrsModule → MessagingModule.forCqrs, in memory', () => {
  const apps: TestingModule[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  async function round(imports: Parameters<typeof startHeroes>[0]) {
    const app = await startHeroes(imports);
    apps.push(app);
    const heroes = await playRound(app, 'hero-1');
    const trace = app.get(HeroesTrace);
    return { app, heroes, trace };
  }

  it('under CqrsModule, the app leaves the reference trace', async () => {
    const { heroes, trace } = await round([CqrsModule.forRoot()]);
    expect(canonical(trace.entries)).toEqual(expectedRound('hero-1'));
    expect(heroes).toEqual([{ id: 'hero-1', dragons: ['dragon-of-hero-1'], items: ['ancient-sword'] }]);
    expect(trace.meta.every((m) => m.correlationId === undefined)).toBe(true); // cqrs has no metadata
  });

  it('under MessagingModule.forCqrs, the same trace and query answer, with metadata from command to saga to command', async () => {
    const { heroes, trace } = await round([MessagingModule.forCqrs({ serviceName: 'heroes' })]);
    expect(canonical(trace.entries)).toEqual(expectedRound('hero-1'));
    expect(heroes).toEqual([{ id: 'hero-1', dragons: ['dragon-of-hero-1'], items: ['ancient-sword'] }]);

    const meta = Object.fromEntries(trace.meta.map((m) => [m.step, m]));
    const kill = meta.KillDragonHandler;
    expect(kill.id).toMatch(/^[0-9a-f-]{36}$/);
    // one correlation for the whole round
    expect(new Set(trace.meta.map((m) => m.correlationId))).toEqual(new Set([kill.correlationId]));
    // the event was caused by the command, the saga's command by the event, the last event by that command
    const killed = meta.HeroKilledDragonHandler;
    expect(killed.causationId).toBe(kill.id);
    expect(meta['HeroesGameSagas.dragonKilled'].id).toBe(killed.id);
    expect(meta.DropAncientItemHandler.causationId).toBe(killed.id);
    expect(meta.HeroFoundItemHandler.causationId).toBe(meta.DropAncientItemHandler.id);
  });

  it('under MessagingTestingModule({ cqrs: true }), the harness sees the events by class, the unannotated one by its class name', async () => {
    const { app, trace } = await round([MessagingTestingModule.forRoot({ serviceName: 'heroes', cqrs: true })]);
    expect(canonical(trace.entries)).toEqual(expectedRound('hero-1'));
    const harness = app.get(MessagingTestHarness);
    await harness.whenIdle();
    expect(harness.published(HeroKilledDragonEvent).map((m) => m.data)).toEqual([
      { heroId: 'hero-1', dragonId: 'dragon-of-hero-1' },
    ]);
    expect(harness.published('HeroKilledDragonEvent')).toHaveLength(1);
    expect(harness.published(HeroFoundItemEvent).map((m) => m.type)).toEqual(['heroes.HeroFoundItem']);
    // the sagas' own subscriber got both events
    expect(
      harness
        .handled(undefined, 'cqrs.sagas')
        .map((d) => d.type)
        .sort(),
    ).toEqual(['HeroKilledDragonEvent', 'heroes.HeroFoundItem']);
  });

  it('plays several rounds concurrently with the same results as cqrs', async () => {
    const heroIds = ['a', 'b', 'c', 'd'];
    const run = async (imports: Parameters<typeof startHeroes>[0]) => {
      const app = await startHeroes(imports);
      apps.push(app);
      await Promise.all(heroIds.map((id) => playRound(app, id)));
      return { trace: canonical(app.get(HeroesTrace).entries), heroes: await app.get(HeroesGame).heroes() };
    };
    const cqrs = await run([CqrsModule.forRoot()]);
    const ours = await run([MessagingModule.forCqrs({ serviceName: 'heroes' })]);
    expect(ours.trace).toEqual(cqrs.trace);
    expect(ours.trace).toEqual(heroIds.flatMap((id) => expectedRound(id)).sort());
    const byId = (h: { id: string }[]) => [...h].sort((x, y) => x.id.localeCompare(y.id));
    expect(byId(ours.heroes)).toEqual(byId(cqrs.heroes));
    expect(ours.heroes).toHaveLength(4);
  });

  it('forCqrsAsync takes its options from a factory, like forRootAsync', async () => {
    const { heroes, trace } = await round([
      MessagingModule.forCqrsAsync({ useFactory: () => ({ serviceName: 'heroes-async' }) }),
    ]);
    expect(canonical(trace.entries)).toEqual(expectedRound('hero-1'));
    expect(heroes).toHaveLength(1);
  });

  it('starts without a warning in memory and says where the sagas are fed from', async () => {
    const logger = new LinesLogger();
    const app = await startHeroes([MessagingModule.forCqrs({ serviceName: 'heroes' })], [], logger);
    apps.push(app);
    expect(logger.lines.filter((l) => l.startsWith('warn') || l.startsWith('error'))).toEqual([]);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/@Saga HeroesGameSagas\.dragonKilled fed by subscriber "cqrs\.sagas"/),
    );
  });
});
