import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { CONSUMER_COMPILER_OPTIONS } from '../setup/typescript';
import { MESSAGING_ENV_VARIABLES } from '../../lib';

/**
 * Every ```ts block of the documentation (README.md, CONTRIBUTING.md, docs/*.md) must type-check
 * as a module of its own, with `import … from 'nestjs-messaging'` resolved to lib/index.ts.
 */
const root = path.resolve(__dirname, '../..');

/** Guides whose snippets refer to an app of their own: type-checked with it by docs-examples.spec.ts. */
const WITH_FIXTURE = new Set(['migrating-from-cqrs.md']);

/** The documentation files, relative to the repository root. */
function documents(): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md') && !WITH_FIXTURE.has(f))
    .map((f) => `docs/${f}`);
  return ['README.md', 'CONTRIBUTING.md', ...docs.sort()];
}

/** The ```ts blocks of one document. */
function blocksOf(file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Type-checks each block as a module of its own; returns the diagnostics (`file:line: message`). */
function typeCheck(blocks: string[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-examples-'));
  try {
    const files = blocks.map((code, i) => {
      const file = path.join(dir, `example-${i + 1}.ts`);
      fs.writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      ...CONSUMER_COMPILER_OPTIONS,
      esModuleInterop: true,
      skipLibCheck: true,
      typeRoots: [path.join(root, 'node_modules/@types')],
      baseUrl: root,
      paths: { 'nestjs-messaging': ['lib/index.ts'], '*': ['node_modules/*'] },
    });
    return ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)))
      .map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${path.basename(d.file!.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('documentation examples', () => {
  it('covers README.md, CONTRIBUTING.md and docs/*.md', () => {
    expect(documents()).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/benchmarks.md']));
    expect(blocksOf('README.md').length).toBeGreaterThanOrEqual(5);
  });

  it('the check catches a wrong example (it is not vacuous)', () => {
    const messages = typeCheck([
      "import { EventBus } from 'nestjs-messaging';\nexport function f(bus: EventBus): number {\n  return bus.publish({ type: 'X' });\n}",
    ]);
    expect(messages.length).toBeGreaterThan(0);
    expect(messages[0]).toMatch(/^example-1\.ts:3: Type 'Promise<void>' is not assignable to type 'number'/);
  }, 120_000);

  it("the README's configuration reference names every environment variable messagingOptionsFromEnv reads", () => {
    const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const reference = text.slice(text.indexOf('## Configuration reference'), text.indexOf('## Production setup'));
    // once in the environment variables table, once beside its option in an options table
    const missing = Object.keys(MESSAGING_ENV_VARIABLES).filter(
      (name) => reference.split(`\`${name}\``).length - 1 < 2,
    );
    expect(missing).toEqual([]);
  });

  describe.each(documents())('%s', (file) => {
    it('every code block that uses the library is a ```ts block, so none escapes the type check', () => {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      const untyped = [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].filter(
        ([, lang, code]) =>
          lang !== 'ts' && /from 'nestjs-messaging'|@(Subscribe|CommandHandler|QueryHandler|Message)\(/.test(code),
      );
      expect(untyped.map(([, lang, code]) => `${lang || '(none)'}: ${code.slice(0, 60)}`)).toEqual([]);
    });

    it('type-checks against the public API', () => {
      const blocks = blocksOf(file);
      if (blocks.length > 0) expect(typeCheck(blocks)).toEqual([]);
    }, 120_000);
  });
});
