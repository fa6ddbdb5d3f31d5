import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnv } from 'node:util';
import { UsageError } from './args';

/**
 * The environment the CLI runs with: `process.env` over the variables of an env file, as the
 * application sees them with `@nestjs/config` (real environment variables win). The file is
 * `--env-file <path>` when given (it must exist), else `.env` in the working directory if there is
 * one. Returns the command line without `--env-file`.
 */
export function withEnvFile(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  cwd: string,
): { argv: string[]; env: Record<string, string | undefined>; file?: string } {
  const rest: string[] = [];
  let explicit: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--env-file' || arg.startsWith('--env-file=')) {
      const value = arg === '--env-file' ? argv[++i] : arg.slice('--env-file='.length);
      if (!value) throw new UsageError('--env-file needs a path');
      explicit = value;
    } else {
      rest.push(arg);
    }
  }
  const file = path.resolve(cwd, explicit ?? '.env');
  if (!fs.existsSync(file)) {
    if (explicit !== undefined) throw new UsageError(`--env-file ${explicit}: no such file`);
    return { argv: rest, env };
  }
  const fromFile = parseEnv(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  return { argv: rest, env: { ...fromFile, ...env }, file };
}
