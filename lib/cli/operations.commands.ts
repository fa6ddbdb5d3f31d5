/* eslint-disable @typescript-eslint/no-require-imports */
import * as os from 'node:os';
import type { LoggerService } from '@nestjs/common';
import type { FailureGroup, JourneyMessage } from '../console/console-api.interface';
import { PostgresDeadLetterRecords, type DeadLetterRecords, type SqlRows } from '../dead-letter/dead-letter-records';
import { FailureGroupNotFoundError, PurgeTokenMismatchError } from '../errors/operations.errors';
import type { DeadLetterAdmin } from '../monitoring/dead-letters/dead-letter-admin.service';
import { topApplicationFrameAt } from '../monitoring/dead-letters/failure-key';
import { FailureGroupAdmin } from '../operations/failure-group-admin';
import { readJourney, type JourneySources } from '../operations/journey';
import { OperatorLog } from '../operations/operator-log';
import { DEFAULT_INBOX_TABLE, DEFAULT_OUTBOX_TABLE } from '../outbox/outbox-options.interface';
import { isValidTableName, quoteTable } from '../outbox/outbox-options.validator';
import { onlyFlags, stringFlag, UsageError, type ParsedArgs } from './args';
import type { CliIo } from './cli-io';
import { EXIT } from './exit-codes';
import { maskUrl } from './secrets';

type Env = Record<string, string | undefined>;

/** Text from the wire (error messages, types, ids) as one terminal line: control characters shown as `?`. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** A PostgreSQL connection of the CLI: statements, and its end. */
export interface CliDatabase {
  rows: SqlRows;
  end(): Promise<void>;
}

/** Connects to DATABASE_URL with `pg`, or undefined when it is not set and `required` is false. */
export async function openDatabase(env: Env, required: boolean): Promise<CliDatabase | undefined> {
  const url = env.DATABASE_URL;
  if (!url) {
    if (required) throw new UsageError('DATABASE_URL is not set (postgres://user:password@host:5432/database)');
    return undefined;
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`PostgreSQL only, DATABASE_URL is ${maskUrl(url)}`);
  let pg: { Client: new (o: object) => { connect(): Promise<void>; query: Function; end(): Promise<void> } };
  try {
    pg = require('pg');
  } catch {
    throw new UsageError('this command needs the "pg" package installed');
  }
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'nestjs-messaging-cli',
  });
  await client.connect();
  return {
    rows: async (sql, params) => ((await client.query(sql, params)) as { rows: Record<string, unknown>[] }).rows,
    end: () => client.end().catch(() => undefined),
  };
}

function tableFromEnv(env: Env, name: string, fallback?: string): string | undefined {
  const value = env[name] || fallback;
  if (value !== undefined && !isValidTableName(value)) {
    throw new UsageError(`${name} is not a valid table name: ${JSON.stringify(value)}`);
  }
  return value;
}

/** The durable dead-letter record, when DATABASE_URL and MESSAGING_DEAD_LETTER_TABLE are set. */
export function recordsFrom(env: Env, db: CliDatabase | undefined): DeadLetterRecords | undefined {
  const table = tableFromEnv(env, 'MESSAGING_DEAD_LETTER_TABLE');
  return db && table ? new PostgresDeadLetterRecords(table, quoteTable(table), db.rows) : undefined;
}

/** Who acts: MESSAGING_OPERATOR, else `cli:<os user>`. */
export function actorFrom(env: Env): string {
  if (env.MESSAGING_OPERATOR) return env.MESSAGING_OPERATOR;
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Operator actions logged to stderr. */
export function stderrOperatorLog(io: CliIo): OperatorLog {
  const drop = () => undefined;
  const logger: LoggerService = { log: (m: unknown) => io.err(String(m)), error: drop, warn: drop };
  return new OperatorLog(logger);
}

/** Runs `work` with a `FailureGroupAdmin` over `admin` (which marks the durable record when configured). */
export function withGroups(
  admin: DeadLetterAdmin,
  io: CliIo,
  work: (groups: FailureGroupAdmin) => Promise<number>,
): Promise<number> {
  return work(new FailureGroupAdmin(admin, stderrOperatorLog(io)));
}

/** `dlq groups [--subscriber S] [--json]`: failure groups, largest first. */
export async function dlqGroups(
  groups: FailureGroupAdmin,
  args: ParsedArgs,
  io: CliIo,
  service: string,
): Promise<number> {
  onlyFlags(args, ['subscriber', 'json']);
  if (args.positionals.length > 2) throw new UsageError('dlq groups takes no argument');
  const { groups: list, scanned, truncated } = await groups.scan({ subscriber: stringFlag(args, 'subscriber') });
  const total = list.reduce((n, g) => n + g.count, 0);
  if (args.flags.json) {
    const shown = list.map(({ example: _example, ...g }) => g);
    io.out(JSON.stringify({ service, total, scanned, truncated, groups: shown }, null, 2));
    return EXIT.OK;
  }
  io.out(`${total} dead letter(s) of service "${service}" in ${list.length} failure group(s)`);
  if (truncated) io.out(truncatedLine(scanned, 'the groups and counts cover those only'));
  for (const g of list) io.out(describeGroup(g));
  return EXIT.OK;
}

/** The line that says a read of the dead-letter queue stopped at its limit. */
export function truncatedLine(scanned: number, consequence: string): string {
  return (
    `PARTIAL: the dead-letter queue holds more than the ${scanned} oldest dead letters read; ${consequence} ` +
    `(retry or purge what is shown, then run this again)`
  );
}

/** A group as text: every field read from the wire (ids, names, types, messages, frames) through `printable`. */
function describeGroup(g: FailureGroup): string {
  const types = Object.entries(g.types)
    .map(([t, n]) => `${printable(t)}×${n}`)
    .join(', ');
  const exampleAt = topApplicationFrameAt(g.example.error.stack);
  return [
    '',
    `group ${printable(g.id)}  ${g.count} × ${printable(g.subscriber)}  ${printable(g.errorName)}: ${printable(g.normalizedMessage)}`,
    `  at:    ${g.topFrame === undefined ? '(no application frame recorded)' : printable(g.topFrame)}`,
    `  seen:  ${printable(g.firstSeenAt)} … ${printable(g.lastSeenAt)}`,
    `  types: ${types}`,
    `  e.g.:  ${printable(g.example.error.message.slice(0, 200))} (dead letter ${printable(g.example.id)}${exampleAt === undefined ? '' : ` at ${printable(exampleAt)}`})`,
  ].join('\n');
}

/** `dlq retry (--group <id> | <id>)`: back to the subscriber that failed, logged with the actor. */
export async function dlqRetry(groups: FailureGroupAdmin, args: ParsedArgs, io: CliIo, env: Env): Promise<number> {
  onlyFlags(args, ['group']);
  const group = stringFlag(args, 'group');
  const id = args.positionals[2];
  if ((group === undefined) === (id === undefined) || args.positionals.length > 3) {
    throw new UsageError('usage: dlq retry (--group <group id> | <dead-letter id or message id>)');
  }
  const actor = actorFrom(env);
  if (id !== undefined) {
    const n = await groups.retryOne(id, actor);
    if (n === 0) {
      io.err(`no dead letter with id ${id}`);
      return EXIT.NOT_FOUND;
    }
    io.out(`retried 1 dead letter`);
    return EXIT.OK;
  }
  try {
    const n = await groups.retryGroup(group!, actor, (done, total) => io.err(`retried ${done}/${total}`));
    io.out(`retried ${n} dead letter(s) of group ${group}`);
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof FailureGroupNotFoundError)) throw error;
    io.err(error.message);
    return EXIT.NOT_FOUND;
  }
}

/** `dlq purge --group <id> [--token <t>]`: without the token, shows the group and its token; with it, deletes. */
export async function dlqPurgeGroup(groups: FailureGroupAdmin, args: ParsedArgs, io: CliIo, env: Env): Promise<number> {
  onlyFlags(args, ['group', 'token']);
  const id = stringFlag(args, 'group');
  if (id === undefined || args.positionals.length > 2)
    throw new UsageError('usage: dlq purge --group <id> --token <t>');
  const group = await groups.group(id);
  if (!group) {
    io.err(new FailureGroupNotFoundError(id).message);
    return EXIT.NOT_FOUND;
  }
  const token = stringFlag(args, 'token');
  if (token === undefined) {
    io.out(describeGroup(group));
    io.err(
      `to delete these ${group.count} dead letter(s) for good: dlq purge --group ${id} --token ${await groups.purgeToken(id)}`,
    );
    return EXIT.ABORTED;
  }
  try {
    io.out(`purged ${await groups.purgeGroup(id, token, actorFrom(env))} dead letter(s) of group ${id}`);
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof PurgeTokenMismatchError)) throw error;
    io.err(error.message);
    return EXIT.ABORTED;
  }
}

/** `trace <id> [--json]`: the journey of a correlation id or message id (DATABASE_URL; the transport's dead letters when configured). */
export async function trace(
  args: ParsedArgs,
  env: Env,
  io: CliIo,
  admin: (() => Promise<{ admin: DeadLetterAdmin; close(): Promise<void> }>) | undefined,
): Promise<number> {
  onlyFlags(args, ['json']);
  const id = args.positionals[1];
  if (!id || args.positionals.length > 2 || id.length > 200)
    throw new UsageError('usage: trace <correlation id or message id>');
  const db = (await openDatabase(env, true))!;
  const transport = admin ? await admin() : undefined;
  try {
    const sources: JourneySources = {
      tables: {
        rows: db.rows,
        database: 'postgres',
        outboxTable: tableFromEnv(env, 'MESSAGING_OUTBOX_TABLE', DEFAULT_OUTBOX_TABLE)!,
        inboxTable: tableFromEnv(env, 'MESSAGING_INBOX_TABLE', DEFAULT_INBOX_TABLE)!,
      },
      records: recordsFrom(env, db),
      deadLetterScan: transport && (() => transport.admin.scan()),
    };
    const journey = await readJourney(id, sources);
    if (args.flags.json) {
      io.out(JSON.stringify(journey, null, 2));
      return EXIT.OK;
    }
    if (journey.total === 0) {
      io.err(`nothing recorded for ${id}`);
      return EXIT.NOT_FOUND;
    }
    io.out(printable(`journey of ${id} (correlation id ${journey.correlationId}): ${journey.total} message(s)`));
    if (journey.deadLettersTruncated) {
      io.out(truncatedLine(journey.deadLettersScanned ?? 0, 'newer dead letters of this journey are not shown'));
    }
    const walk = (m: JourneyMessage, indent: string) => {
      io.out(`${indent}- ${printable(describeMessage(m))}`);
      for (const h of m.handledBy) io.out(printable(`${indent}    handled by ${h.subscriber} at ${h.processedAt}`));
      for (const d of m.deadLetters) {
        io.out(
          printable(
            `${indent}    DEAD LETTER ${d.id}${d.status && d.status !== 'dead' ? ` (${d.status}${d.statusBy ? ` by ${d.statusBy}` : ''})` : ''} ` +
              `in ${d.subscriber} after ${d.attempts} attempt(s) at ${d.deadLetteredAt}: ${d.error.name}: ${d.error.message.slice(0, 200)}`,
          ),
        );
      }
      for (const c of m.children) walk(c, `${indent}  `);
    };
    for (const root of journey.roots) walk(root, '');
    return EXIT.OK;
  } finally {
    await transport?.close();
    await db.end();
  }
}

function describeMessage(m: JourneyMessage): string {
  const from = m.source ? ` from ${m.source}` : '';
  const at = m.time ? ` at ${m.time}` : '';
  const o = m.outbox;
  const outbox = o
    ? ` [outbox ${o.status}, ${o.attempts} failed publish(es)${o.lastError ? `: ${o.lastError.slice(0, 120)}` : ''}]`
    : '';
  return `${m.type} ${m.id}${from}${at}${outbox}`;
}
