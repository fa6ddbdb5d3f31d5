import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'lib/cli/main.ts');

/** What one CLI run produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as operators do — a separate Node process, stdin not a terminal — from the
 * TypeScript sources (ts-node, transpile only). Only `env` plus PATH/HOME reach it.
 */
export function runCliProcess(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
  cwd = ROOT,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-r', require.resolve('ts-node/register/transpile-only'), MAIN, ...args],
      {
        cwd,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'),
          ...env,
        },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        if (code === -1) return reject(new Error(`CLI did not finish: ${err?.message}\n${stderr}`));
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}
