import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { CONSUMER_COMPILER_OPTIONS } from '../setup/typescript';

/**
 * `npm run build` + `npm pack` give a package a Nest app can install: compiled JS with .d.ts, the
 * CLI, the README; no sources or tests. The packed package loads, boots a Nest app, and its types
 * compile in a consumer.
 */
const root = path.resolve(__dirname, '../..');
const OPTIONAL_PEERS = Object.entries(
  (
    JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    }
  ).peerDependenciesMeta,
)
  .filter(([, meta]) => meta.optional)
  .map(([name]) => name);

/** Type-checks `file` as a strict consumer project would (`skipLibCheck: false`); one line per error. */
function typeCheck(file: string, options: ts.CompilerOptions): string[] {
  // and the strictest flags a user's tsconfig may add: the declarations must compile under them too
  const program = ts.createProgram([file], {
    ...CONSUMER_COMPILER_OPTIONS,
    skipLibCheck: false,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noPropertyAccessFromIndexSignature: true,
    ...options,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('the npm package', () => {
  let dir: string;
  let pkg: string;
  let files: string[];

  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'pipe' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestjs-messaging-pack-'));
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = info.files.map((f) => f.path);
    const app = path.join(dir, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    execFileSync('tar', ['-xzf', path.join(dir, info.filename), '-C', path.join(app, 'node_modules')]);
    pkg = path.join(app, 'node_modules', 'nestjs-messaging');
    fs.renameSync(path.join(app, 'node_modules', 'package'), pkg);
  }, 120_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('contains the build, the types, the CLI and the README, and no sources or tests', () => {
    expect(files).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'README.md', 'package.json']),
    );
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /spec|test\//.test(f))).toEqual([]);
  });

  it('ships source maps that carry their sources (none points at a file the package does not contain)', () => {
    const maps = files.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    const dangling = maps.filter((f) => {
      const map = JSON.parse(fs.readFileSync(path.join(pkg, f), 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown[];
      };
      return !map.sourcesContent || map.sourcesContent.length !== map.sources.length;
    });
    expect(dangling).toEqual([]);
  });

  it('boots a Nest app from the packed build and dispatches a command', () => {
    const script = `
      require('reflect-metadata');
      const { Test } = require('@nestjs/testing');
      const m = require(${JSON.stringify(pkg)});
      class Ping {}
      class PingHandler { execute() { return 'pong'; } }
      m.CommandHandler(Ping)(PingHandler);
      (async () => {
        const ref = await Test.createTestingModule({ imports: [m.MessagingModule.forRoot({ serviceName: 'packed' })], providers: [PingHandler] })
          .setLogger(false).compile();
        await ref.init();
        const answer = await ref.get(m.CommandBus).execute(new Ping());
        await ref.close();
        process.stdout.write(answer);
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
    });
    expect(out).toBe('pong');
  });

  it('ships a working CLI', () => {
    const out = execFileSync(process.execPath, [path.join(pkg, 'dist/cli/main.js'), '--help'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
    });
    expect(out).toContain('dlq list');
    expect(fs.readFileSync(path.join(pkg, 'dist/cli/main.js'), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });

  it('has declarations that compile with only the required peers installed (strict, skipLibCheck: false)', () => {
    // a consumer project whose node_modules hold the package and its required peers only: no
    // typeorm, prom-client, @opentelemetry/api, RabbitMQ packages, cqrs or terminus
    const consumer = path.join(dir, 'bare');
    const modules = path.join(consumer, 'node_modules');
    fs.mkdirSync(path.join(modules, '@nestjs'), { recursive: true });
    fs.mkdirSync(path.join(modules, '@types'), { recursive: true });
    fs.cpSync(pkg, path.join(modules, 'nestjs-messaging'), { recursive: true });
    const required = Object.entries(
      (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { peerDependencies: object })
        .peerDependencies,
    )
      .map(([name]) => name)
      .filter((name) => !OPTIONAL_PEERS.includes(name));
    for (const name of [...required, 'tslib', '@types/node', 'undici-types']) {
      if (fs.existsSync(path.join(root, 'node_modules', name))) {
        fs.symlinkSync(path.join(root, 'node_modules', name), path.join(modules, name));
      }
    }
    const file = path.join(consumer, 'app.ts');
    fs.writeFileSync(
      file,
      `import { Command, CommandBus, EventBus, Message, MessagingModule, MessagingTestingModule, Subscribe } from 'nestjs-messaging';
       @Message('Thing') class Thing { constructor(readonly id: string) {} }
       class Count extends Command<number> {}
       class S { @Subscribe(Thing) on(_t: Thing): void {} }
       export const m = [MessagingModule.forRoot({ serviceName: 'x' }), MessagingTestingModule.forRoot()];
       export async function f(bus: EventBus, commands: CommandBus): Promise<number> {
         await bus.publish(new Thing('1'));
         void S;
         return commands.execute(new Count());
       }\n`,
    );
    expect(typeCheck(file, { typeRoots: [path.join(modules, '@types')] })).toEqual([]);
    // not vacuous: the optional peers really are absent from that project
    expect(fs.existsSync(path.join(modules, 'typeorm'))).toBe(false);
  }, 120_000);

  it('has declarations a consumer compiles against', () => {
    const file = path.join(path.dirname(pkg), '..', 'consumer.ts');
    fs.writeFileSync(
      file,
      `import { MessagingModule, EventBus, Message, Subscribe, type DeadLetter } from 'nestjs-messaging';
       @Message('Thing') class Thing { constructor(readonly id: string) {} }
       class S { @Subscribe(Thing) on(_t: Thing): void {} }
       export const m = MessagingModule.forRoot({ serviceName: 'x', onDeadLetter: (d: DeadLetter) => void d.error.message });
       export async function f(bus: EventBus) { await bus.publish(new Thing('1')); return S; }\n`,
    );
    const diagnostics = typeCheck(file, {
      typeRoots: [path.join(root, 'node_modules/@types')],
      baseUrl: path.dirname(file),
      paths: {
        'nestjs-messaging': [pkg],
        '*': [path.join(root, 'node_modules/*'), path.join(root, 'node_modules/@types/*')],
      },
    });
    expect(
      diagnostics.filter((d) => d.startsWith(': ') || d.includes('nestjs-messaging') || d.startsWith(`${file}:`)),
    ).toEqual([]);
  }, 120_000);
});
