import type { INestApplicationContext, ModuleMetadata, Provider } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { waitFor } from '../setup/wait';
import { ANCIENT_ITEM, HEROES_PROVIDERS, HeroesGame, HeroesTrace, type HeroView } from './heroes.app';

/** A logger that keeps every line. */
export class LinesLogger {
  readonly lines: string[] = [];
  log = (...m: unknown[]) => void this.lines.push(`log ${m.join(' ')}`);
  error = (...m: unknown[]) => void this.lines.push(`error ${m.join(' ')}`);
  warn = (...m: unknown[]) => void this.lines.push(`warn ${m.join(' ')}`);
  debug = () => undefined;
  verbose = () => undefined;
  fatal = (...m: unknown[]) => void this.lines.push(`fatal ${m.join(' ')}`);
}

/** Builds and starts the heroes app with `imports` in place of its messaging module. */
export async function startHeroes(
  imports: ModuleMetadata['imports'],
  extra: Provider[] = [],
  logger = new LinesLogger(),
): Promise<TestingModule> {
  const app = await Test.createTestingModule({ imports, providers: [...HEROES_PROVIDERS, ...extra] })
    .setLogger(logger)
    .compile();
  await app.init();
  return app;
}

/** Plays one round: a hero kills a dragon, the saga drops an item; returns the query's answer. */
export async function playRound(app: INestApplicationContext, heroId: string, timeoutMs = 10_000): Promise<HeroView[]> {
  const trace = app.get(HeroesTrace);
  await app.get(HeroesGame).killDragon(heroId, `dragon-of-${heroId}`);
  await waitFor(
    () =>
      trace.entries.some(
        (e) => e.step === 'HeroFoundItemHandler' && e.data.heroId === heroId && e.data.itemId === ANCIENT_ITEM,
      ),
    `the saga's follow-up for ${heroId}`,
    timeoutMs,
  );
  return app.get(HeroesGame).heroes();
}

/** The trace a round of `heroId` leaves under `@nestjs/cqrs` (checked against CqrsModule itself). */
export function expectedRound(heroId: string): string[] {
  const dragonId = `dragon-of-${heroId}`;
  const entries = [
    { step: 'KillDragonHandler', argument: 'KillDragonCommand', data: { heroId, dragonId } },
    { step: 'HeroKilledDragonHandler', argument: 'HeroKilledDragonEvent', data: { heroId, dragonId } },
    { step: 'HeroesGameSagas.dragonKilled', argument: 'HeroKilledDragonEvent', data: { heroId, dragonId } },
    { step: 'DropAncientItemHandler', argument: 'DropAncientItemCommand', data: { heroId, itemId: ANCIENT_ITEM } },
    { step: 'HeroFoundItemHandler', argument: 'HeroFoundItemEvent', data: { heroId, itemId: ANCIENT_ITEM } },
  ];
  return entries
    .map((e) => JSON.stringify({ step: e.step, argument: e.argument, instanceOfItsClass: true, data: e.data }))
    .sort();
}
