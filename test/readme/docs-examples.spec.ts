import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { CONSUMER_COMPILER_OPTIONS } from '../setup/typescript';

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

function blocks(file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

function typeCheck(code: string[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-examples-'));
  try {
    fs.writeFileSync(path.join(dir, 'heroes.ts'), HEROES_FIXTURE);
    const files = code.map((c, i) => {
      const file = path.join(dir, `example-${i + 1}.ts`);
      fs.writeFileSync(file, `${c}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram([...files, path.join(dir, 'heroes.ts')], {
      ...CONSUMER_COMPILER_OPTIONS,
      types: ['node', 'jest'],
      esModuleInterop: true,
      skipLibCheck: true,
      typeRoots: [path.join(root, 'node_modules/@types')],
      baseUrl: root,
      paths: { 'nestjs-messaging': ['lib/index.ts'], '*': ['node_modules/*'] },
    });
    return ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && path.resolve(d.file.fileName).startsWith(dir))
      .map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${path.basename(d.file!.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(GUIDES)('%s examples', (guide) => {
  it('every code block that uses the library is a ```ts block (a ```diff is not code)', () => {
    const text = fs.readFileSync(path.join(root, guide), 'utf8');
    const untyped = [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].filter(
      ([, lang, code]) => lang !== 'ts' && lang !== 'diff' && /from '(nestjs-messaging|@nestjs\/cqrs)'/.test(code),
    );
    expect(untyped.map(([, lang, code]) => `${lang || '(none)'}: ${code.slice(0, 60)}`)).toEqual([]);
    expect(blocks(guide).length).toBeGreaterThanOrEqual(4);
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
    expect(typeCheck(blocks(guide))).toEqual([]);
  }, 120_000);
});
