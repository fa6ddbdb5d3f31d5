import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { DeadLetterAdmin, DeadLetterSelection } from '../monitoring/dead-letters/dead-letter-admin.service';
import { onlyFlags, stringFlag, UsageError, type ParsedArgs } from './args';
import type { CliIo } from './cli-io';
import { EXIT } from './exit-codes';

const MAX_IDS_SHOWN = 10;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** `dlq list [--subscriber S] [--error NAME] [--type T] [--json]`: dead letters grouped by subscriber and error. */
export async function dlqList(admin: DeadLetterAdmin, args: ParsedArgs, io: CliIo, service: string): Promise<number> {
  onlyFlags(args, ['subscriber', 'error', 'type', 'json']);
  if (args.positionals.length > 2) throw new UsageError('dlq list takes no argument');
  const groups = await admin.groups({
    subscriber: stringFlag(args, 'subscriber'),
    errorName: stringFlag(args, 'error'),
    type: stringFlag(args, 'type'),
  });
  if (args.flags.json) {
    io.out(JSON.stringify({ service, total: groups.reduce((n, g) => n + g.count, 0), groups }, null, 2));
    return EXIT.OK;
  }
  const total = groups.reduce((n, g) => n + g.count, 0);
  io.out(`${total} dead letter(s) of service "${service}" in ${groups.length} group(s)`);
  if (groups.length === 0) return EXIT.OK;
  const w1 = Math.max(10, ...groups.map((g) => g.subscriber.length));
  const w2 = Math.max(5, ...groups.map((g) => g.errorName.length));
  io.out('');
  io.out(`${pad('SUBSCRIBER', w1)}  ${pad('ERROR', w2)}  ${'COUNT'.padStart(6)}  NEWEST                    TYPES`);
  for (const g of groups) {
    const types = Object.entries(g.types)
      .map(([t, n]) => `${t}×${n}`)
      .join(', ');
    io.out(
      `${pad(g.subscriber, w1)}  ${pad(g.errorName, w2)}  ${String(g.count).padStart(6)}  ${pad(g.newestAt, 24)}  ${types}`,
    );
    io.out(`${' '.repeat(w1 + 2)}last error: ${g.lastErrorMessage}`);
    const more = g.ids.length > MAX_IDS_SHOWN ? ` (+${g.ids.length - MAX_IDS_SHOWN} more)` : '';
    io.out(`${' '.repeat(w1 + 2)}ids: ${g.ids.slice(0, MAX_IDS_SHOWN).join(' ')}${more}`);
  }
  return EXIT.OK;
}

/** `dlq show <id> [--json]`: one dead letter (by dead-letter id or message id) with its headers and body. */
export async function dlqShow(admin: DeadLetterAdmin, args: ParsedArgs, io: CliIo): Promise<number> {
  onlyFlags(args, ['json']);
  const id = args.positionals[2];
  if (!id || args.positionals.length > 3) throw new UsageError('usage: dlq show <id>');
  const dl = await admin.find(id);
  if (!dl) {
    io.err(`no dead letter with id ${id}`);
    return EXIT.NOT_FOUND;
  }
  if (args.flags.json) {
    io.out(JSON.stringify(dl, null, 2));
    return EXIT.OK;
  }
  for (const line of describe(dl)) io.out(line);
  return EXIT.OK;
}

function describe(dl: DeadLetter): string[] {
  const e = dl.envelope;
  const rows: Array<[string, string | number | undefined]> = [
    ['dead-letter id', dl.id],
    ['message id', dl.messageId],
    ['type', e ? `${e.type} v${e.version}` : dl.type],
    ['subscriber', dl.subscriber],
    ['queue', dl.sourceQueue],
    ['attempts', dl.attempts],
    ['first failure', dl.firstFailureAt],
    ['last failure', dl.lastFailureAt],
    ['dead-lettered', dl.deadLetteredAt],
    ['error', `${dl.error.name}: ${dl.error.message}`],
  ];
  const lines = rows.filter(([, v]) => v !== undefined).map(([k, v]) => `${pad(k + ':', 16)}${v}`);
  if (dl.error.stack) lines.push('stack:', ...dl.error.stack.split('\n').map((l) => `  ${l.trim()}`));
  lines.push('headers:');
  const headers: Record<string, string | undefined> = e
    ? {
        source: e.source,
        time: e.time,
        correlationid: e.correlationId,
        causationid: e.causationId,
        traceparent: e.traceparent,
        partitionkey: e.partitionKey,
        ...e.headers,
      }
    : {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) lines.push(`  ${pad(k + ':', 16)}${v}`);
  if (!e) lines.push('  (the body could not be decoded)');
  lines.push('body:');
  let body = dl.body;
  try {
    body = JSON.stringify(JSON.parse(dl.body), null, 2);
  } catch {
    /* shown as received */
  }
  lines.push(...body.split('\n').map((l) => `  ${l}`));
  return lines;
}

/** The selection of `replay`/`purge`: `<id>`, `--all`, or `--subscriber`/`--error`/`--type` (combined with AND). */
export function selectionOf(args: ParsedArgs, verb: string): DeadLetterSelection {
  const id = args.positionals[2];
  const filter = {
    subscriber: stringFlag(args, 'subscriber'),
    errorName: stringFlag(args, 'error'),
    type: stringFlag(args, 'type'),
  };
  const filtered = Object.values(filter).some((v) => v !== undefined);
  const chosen = [id !== undefined, args.flags.all === true, filtered].filter(Boolean).length;
  if (chosen !== 1 || args.positionals.length > 3) {
    throw new UsageError(`usage: dlq ${verb} (<id> | --all | [--subscriber S] [--error NAME] [--type T])`);
  }
  return id !== undefined ? { ids: [id] } : args.flags.all ? {} : filter;
}

function progress(io: CliIo, verb: string): (done: number, total: number) => void {
  return (done, total) => {
    if (total > 100) io.err(`${verb} ${done}/${total} (${Math.floor((done * 100) / total)}%)`);
  };
}

/** `dlq replay (<id>|--all|--subscriber S|--error NAME)`: back to the failed subscriber only, as attempt 1. */
export async function dlqReplay(admin: DeadLetterAdmin, args: ParsedArgs, io: CliIo, actor?: string): Promise<number> {
  onlyFlags(args, ['all', 'subscriber', 'error', 'type']);
  let selection = selectionOf(args, 'replay');
  if (selection.ids) {
    const dl = await admin.find(selection.ids[0]);
    if (!dl) {
      io.err(`no dead letter with id ${selection.ids[0]}`);
      return EXIT.NOT_FOUND;
    }
    selection = { ids: [dl.id] };
  }
  const ids = await admin.select(selection);
  if (ids.length === 0) {
    io.out('nothing to replay');
    return EXIT.OK;
  }
  io.err(`replaying ${ids.length} dead letter(s) to the subscriber that failed…`);
  const replayed = await admin.replay({ ids }, progress(io, 'replayed'), actor);
  io.out(`replayed ${replayed} dead letter(s)`);
  return replayed === ids.length ? EXIT.OK : EXIT.FAILED;
}

/** `dlq purge (<id>|--all|--subscriber S|--error NAME) [--yes]`: deletes, after confirmation. */
export async function dlqPurge(
  admin: DeadLetterAdmin,
  args: ParsedArgs,
  io: CliIo,
  service: string,
  actor?: string,
): Promise<number> {
  onlyFlags(args, ['all', 'subscriber', 'error', 'type', 'yes']);
  const selection = selectionOf(args, 'purge');
  if (selection.ids) {
    const dl = await admin.find(selection.ids[0]);
    if (!dl) {
      io.err(`no dead letter with id ${selection.ids[0]}`);
      return EXIT.NOT_FOUND;
    }
    selection.ids = [dl.id];
  }
  const ids = await admin.select(selection);
  if (ids.length === 0) {
    io.out('nothing to purge');
    return EXIT.OK;
  }
  if (args.flags.yes !== true) {
    if (!io.interactive) {
      io.err(`refusing to purge ${ids.length} dead letter(s) without --yes (stdin is not a terminal)`);
      return EXIT.ABORTED;
    }
    if (!(await io.confirm(`Delete ${ids.length} dead letter(s) of service "${service}" for good?`))) {
      io.err('purge cancelled');
      return EXIT.ABORTED;
    }
  }
  const purged = await admin.purge({ ids }, progress(io, 'purged'), actor);
  io.out(`purged ${purged} dead letter(s)`);
  return EXIT.OK;
}
