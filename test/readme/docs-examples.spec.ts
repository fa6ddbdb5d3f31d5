import * as fs from 'node:fs';
import * as path from 'node:path';
import { codeBlocks, typeCheckBlocks } from '../setup/doc-examples';

/**
 * Every ```ts block of the guides in docs/ listed here type-checks as a module of its own, with
 * `import … from 'nestjs-messaging'` resolved to lib/index.ts and `./heroes` to the fixture below
 * (the application classes the guide's snippets refer to).
 */
const root = path.resolve(__dirname, '../..');
const GUIDES = ['docs/migrating-from-cqrs.md'];

/** What the guides' `./heroes` imports stand for: a heroes-style cqrs app. */
const HEROES_FIXTURE = `
import { Module } from '@nestjs/common';
import { AggregateRoot, Command } from '@nestjs/cqrs';
export class HeroKilledDragonEvent {
  constructor(readonly heroId: string, readonly dragonId: string) {}
}
export class KillDragonCommand extends Command<void> {
  constructor(readonly heroId: string, readonly dragonId: string) { super(); }
}
export class DropAncientItemCommand extends Command<void> {
  constructor(readonly heroId: string, readonly itemId: string) { super(); }
}
export class Hero extends AggregateRoot {
  constructor(readonly id: string) { super(); }
  killEnemy(dragonId: string): void { this.apply(new HeroKilledDragonEvent(this.id, dragonId)); }
}
export class HeroRepository {
  async load(_manager: unknown, id: string): Promise<Hero> { return new Hero(id); }
  async save(_manager: unknown, _hero: Hero): Promise<void> {}
}
@Module({})
export class HeroesGameModule {}
`;

const typeCheck = (code: string[]) =>
  typeCheckBlocks(code, { fixtures: { 'heroes.ts': HEROES_FIXTURE }, types: ['node', 'jest'] });

describe.each(GUIDES)('%s examples', (guide) => {
  it('every code block that uses the library is a ```ts block (a ```diff is not code)', () => {
    const text = fs.readFileSync(path.join(root, guide), 'utf8');
    const untyped = [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].filter(
      ([, lang, code]) => lang !== 'ts' && lang !== 'diff' && /from '(nestjs-messaging|@nestjs\/cqrs)'/.test(code),
    );
    expect(untyped.map(([, lang, code]) => `${lang || '(none)'}: ${code.slice(0, 60)}`)).toEqual([]);
    expect(codeBlocks(guide).length).toBeGreaterThanOrEqual(4);
  });

  it('the check catches a wrong example (it is not vacuous)', () => {
    const messages = typeCheck([
      "import { MessagingModule } from 'nestjs-messaging';\nMessagingModule.forCqrs({ serviceName: 1 });",
    ]);
    expect(messages).toEqual([
      expect.stringMatching(/^example-1\.ts:2: Type 'number' is not assignable to type 'string'/),
    ]);
  }, 120_000);

  it('type-checks against the public API and @nestjs/cqrs', () => {
    expect(typeCheck(codeBlocks(guide))).toEqual([]);
  }, 120_000);
});
