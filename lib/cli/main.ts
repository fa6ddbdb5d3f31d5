#!/usr/bin/env node
/**
 * `nestjs-messaging` — operator commands for dead letters and the outbox, configured by the same
 * environment variables as the application (also read from `.env` or `--env-file`). See `USAGE`
 * in `cli.ts`.
 */
import { UsageError } from './args';
import { runCli } from './cli';
import { processIo } from './cli-io';
import { withEnvFile } from './env-file';
import { EXIT } from './exit-codes';
import { secretsOf } from './secrets';

function main(): void {
  let loaded: ReturnType<typeof withEnvFile>;
  try {
    loaded = withEnvFile(process.argv.slice(2), process.env, process.cwd());
  } catch (err) {
    processIo(secretsOf(process.env)).err(`nestjs-messaging: ${(err as Error).message}`);
    process.exitCode = err instanceof UsageError ? EXIT.USAGE : EXIT.FAILED;
    return;
  }
  // secrets from the env file are masked too
  const io = processIo(secretsOf(loaded.env));
  runCli(loaded.argv, loaded.env, io).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      io.err(`nestjs-messaging: ${(err as Error)?.message ?? err}`);
      process.exitCode = EXIT.FAILED;
    },
  );
}

main();
