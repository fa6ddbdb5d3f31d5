import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { CONSUMER_COMPILER_OPTIONS } from './typescript';

/* Type-checking the TypeScript blocks of the documentation, shared by test/readme's specs. */

const root = path.resolve(__dirname, '../..');

/** The ```ts blocks of one document (a path relative to the repository root). */
export function codeBlocks(file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/**
 * Type-checks each block as a module of its own, `nestjs-messaging` resolved to lib/index.ts, beside
 * `fixtures` (file name → source, e.g. the app a guide's snippets import from `./heroes`); returns the
 * diagnostics as `file:line: message`.
 */
export function typeCheckBlocks(
  blocks: string[],
  options: { fixtures?: Record<string, string>; types?: string[] } = {},
): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doc-examples-'));
  try {
    const fixtures = Object.entries(options.fixtures ?? {}).map(([name, source]) => {
      fs.writeFileSync(path.join(dir, name), source);
      return path.join(dir, name);
    });
    const files = blocks.map((code, i) => {
      const file = path.join(dir, `example-${i + 1}.ts`);
      fs.writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram([...files, ...fixtures], {
      ...CONSUMER_COMPILER_OPTIONS,
      ...(options.types ? { types: options.types } : {}),
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
