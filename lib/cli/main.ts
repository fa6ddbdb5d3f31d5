#!/usr/bin/env node
/**
 * `nestjs-messaging` — operator commands for dead letters and the outbox, configured by the same
 * environment variables as the application. See `USAGE` in `cli.ts`.
 */
import { runCli } from './cli';
import { processIo } from './cli-io';
import { secretsOf } from './secrets';

const io = processIo(secretsOf(process.env));
runCli(process.argv.slice(2), process.env, io).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    io.err(`nestjs-messaging: ${(err as Error)?.message ?? err}`);
    process.exitCode = 1;
  },
);
