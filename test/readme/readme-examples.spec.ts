import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * Every ```ts block of README.md must type-check as a module of its own, with
 * `import … from 'nestjs-messaging'` resolved to lib/index.ts.
 */
const root = path.resolve(__dirname, '../..');

function readmeBlocks(): string[] {
  const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('README examples', () => {
  const blocks = readmeBlocks();

  it('has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it('type-check against the public API', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-examples-'));
    try {
      const files = blocks.map((code, i) => {
        const file = path.join(dir, `example-${i + 1}.ts`);
        fs.writeFileSync(file, `${code}\nexport {};\n`);
        return file;
      });
      const program = ts.createProgram(files, {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        strict: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules/@types')],
        baseUrl: root,
        paths: { 'nestjs-messaging': ['lib/index.ts'], '*': ['node_modules/*'] },
      });
      const diagnostics = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)));
      const messages = diagnostics.map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${path.basename(d.file!.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(messages).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
