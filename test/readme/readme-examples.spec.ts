import * as fs from 'node:fs';
import * as path from 'node:path';
import { codeBlocks, typeCheckBlocks } from '../setup/doc-examples';
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

describe('documentation examples', () => {
  it('covers README.md, CONTRIBUTING.md and docs/*.md', () => {
    expect(documents()).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/benchmarks.md']));
    expect(codeBlocks('README.md').length).toBeGreaterThanOrEqual(5);
  });

  it('the check catches a wrong example (it is not vacuous)', () => {
    const messages = typeCheckBlocks([
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
      const blocks = codeBlocks(file);
      if (blocks.length > 0) expect(typeCheckBlocks(blocks)).toEqual([]);
    }, 120_000);
  });
});
