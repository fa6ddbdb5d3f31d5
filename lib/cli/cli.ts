import type { LoggerService } from '@nestjs/common';
import { messagingOptionsFromEnv } from '../config/messaging-options.env';
import { resolveMessagingOptions } from '../config/messaging-options.validator';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { createTransport } from '../transport/transport.factory';
import type { MessageTransport } from '../transport/transport.interface';
import { DeadLetterAdmin } from '../monitoring/dead-letters/dead-letter-admin.service';
import { parseArgs, UsageError, type ParsedArgs } from './args';
import type { CliIo } from './cli-io';
import { dlqList, dlqPurge, dlqReplay, dlqShow } from './dlq.commands';
import { EXIT } from './exit-codes';
import { outboxStats } from './outbox-stats.command';
import {
  actorFrom,
  dlqGroups,
  dlqPurgeGroup,
  dlqRetry,
  openDatabase,
  recordsFrom,
  trace,
  withGroups,
  type CliDatabase,
} from './operations.commands';

/** The help text. */
export const USAGE = `usage: nestjs-messaging <command>

  dlq list [--subscriber S] [--error NAME] [--type T] [--json]
                     dead letters grouped by subscriber and error, with counts and ids
  dlq show <id> [--json]
                     one dead letter (dead-letter id or message id): error, headers, body
  dlq replay (<id> | --all | [--subscriber S] [--error NAME] [--type T])
                     send back to the subscriber that failed (attempt 1); safe to repeat with the inbox on
  dlq purge (<id> | --all | [--subscriber S] [--error NAME] [--type T]) [--yes]
                     delete; asks for confirmation on a terminal, needs --yes otherwise
  dlq groups [--subscriber S] [--json]
                     failure groups: subscriber + error + normalized message + top application frame
  dlq retry (--group <group id> | <id>)
                     send a failure group (or one dead letter) back to the subscriber that failed
  dlq purge --group <group id> [--token <t>]
                     without --token: shows the group and its confirmation token; with it: deletes
  trace <correlation id | message id> [--json]
                     the journey: who published what, who handled it, dead letters (DATABASE_URL)
  outbox stats [--json]
                     pending, due, failed rows and the outbox lag (PostgreSQL)

environment (as for the application; also read from ./.env, or from --env-file <path>,
real environment variables winning):
  MESSAGING_SERVICE_NAME, MESSAGING_TRANSPORT=rabbitmq, MESSAGING_AMQP_URL, MESSAGING_AMQP_EXCHANGE …
  DATABASE_URL, MESSAGING_OUTBOX_TABLE (default messaging_outbox) for outbox stats and trace,
  MESSAGING_INBOX_TABLE (default messaging_processed_messages) for trace,
  MESSAGING_DEAD_LETTER_TABLE: the durable dead-letter table (retry/purge mark it; trace reads it),
  MESSAGING_OPERATOR: who acts, logged with retry and purge (default cli:<os user>)

exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 not found, 4 not confirmed`;

/** A logger for the transport: warnings and errors to stderr, the rest dropped. */
function stderrLogger(io: CliIo): LoggerService {
  const drop = () => undefined;
  return {
    log: drop,
    debug: drop,
    verbose: drop,
    warn: (m: unknown) => io.err(`warning: ${String(m)}`),
    error: (m: unknown) => io.err(`error: ${String(m)}`),
  };
}

/** Builds and connects the transport the application uses, from `env`. */
export async function connectTransport(
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<{ transport: MessageTransport; service: string }> {
  const options = resolveMessagingOptions(messagingOptionsFromEnv(env));
  if (options.transport === 'memory') {
    throw new UsageError(
      'the memory transport keeps dead letters inside the application process: set MESSAGING_TRANSPORT=rabbitmq',
    );
  }
  if (options.transport === 'rabbitmq' && options.rabbitmq) {
    options.rabbitmq = { ...options.rabbitmq, logger: stderrLogger(io), connectionName: `${options.serviceName} cli` };
  }
  const transport = createTransport(options);
  await transport.connect({ serviceName: options.serviceName, onDeadLetter: () => undefined });
  return { transport, service: options.serviceName };
}

async function openAdmin(
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<{ admin: DeadLetterAdmin; close(): Promise<void> }> {
  const { transport } = await connectTransport(env, io);
  return { admin: new DeadLetterAdmin(transport), close: () => transport.close(0).catch(() => undefined) };
}

async function withDeadLetters(
  env: Record<string, string | undefined>,
  io: CliIo,
  run: (admin: DeadLetterAdmin, service: string) => Promise<number>,
): Promise<number> {
  const { transport, service } = await connectTransport(env, io);
  let db: CliDatabase | undefined;
  try {
    // with the durable dead-letter table, replays and purges are marked there
    db = env.MESSAGING_DEAD_LETTER_TABLE ? await openDatabase(env, true) : undefined;
    return await run(new DeadLetterAdmin(transport, { feature: { deadLetters: recordsFrom(env, db) } }), service);
  } finally {
    await db?.end();
    await transport.close(0).catch(() => undefined);
  }
}

async function dispatch(args: ParsedArgs, env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const [group, verb] = args.positionals;
  if (group === 'dlq') {
    switch (verb) {
      case 'groups':
        return withDeadLetters(env, io, (admin, service) =>
          withGroups(admin, io, (groups) => dlqGroups(groups, args, io, service)),
        );
      case 'retry':
        return withDeadLetters(env, io, (admin) => withGroups(admin, io, (groups) => dlqRetry(groups, args, io, env)));
    }
    if (verb === 'purge' && args.flags.group !== undefined) {
      return withDeadLetters(env, io, (admin) =>
        withGroups(admin, io, (groups) => dlqPurgeGroup(groups, args, io, env)),
      );
    }
    switch (verb) {
      case 'list':
        return withDeadLetters(env, io, (admin, service) => dlqList(admin, args, io, service));
      case 'show':
        return withDeadLetters(env, io, (admin) => dlqShow(admin, args, io));
      case 'replay':
        return withDeadLetters(env, io, (admin) => dlqReplay(admin, args, io, actorFrom(env)));
      case 'purge':
        return withDeadLetters(env, io, (admin, service) => dlqPurge(admin, args, io, service, actorFrom(env)));
    }
  }
  if (group === 'outbox' && verb === 'stats') return outboxStats(args, env, io);
  if (group === 'trace') {
    // the dead-letter queue too, when a broker is configured
    const broker = env.MESSAGING_TRANSPORT === 'rabbitmq' ? () => openAdmin(env, io) : undefined;
    return trace(args, env, io, broker);
  }
  throw new UsageError(
    group === undefined ? 'a command is needed' : `unknown command: ${args.positionals.slice(0, 2).join(' ')}`,
  );
}

/** Runs the command line `argv` against `env`; resolves to the exit code (never throws). */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
    if (args.flags.help || args.positionals[0] === 'help') {
      io.out(USAGE);
      return EXIT.OK;
    }
    return await dispatch(args, env, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof InvalidConfigurationError) {
      // a configuration error names the library already ("nestjs-messaging configuration: …")
      io.err(err.message.startsWith('nestjs-messaging') ? err.message : `nestjs-messaging: ${err.message}`);
      if (err instanceof UsageError) io.err('run "nestjs-messaging --help" for the commands');
      return EXIT.USAGE;
    }
    const e = err as Error;
    io.err(`nestjs-messaging: failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`);
    return EXIT.FAILED;
  }
}
