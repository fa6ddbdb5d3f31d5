/* eslint-disable @typescript-eslint/no-require-imports */
import { isValidTableName, quoteTable } from '../outbox/outbox-options.validator';
import { DEFAULT_OUTBOX_TABLE } from '../outbox/outbox-options.interface';
import { onlyFlags, UsageError, type ParsedArgs } from './args';
import type { CliIo } from './cli-io';
import { EXIT } from './exit-codes';
import { maskUrl } from './secrets';

/** What `outbox stats` reports. */
export interface OutboxTableReport {
  table: string;
  pending: number;
  due: number;
  failed: number;
  sent: number;
  /** Age of the oldest due pending row, ms (the outbox lag). */
  oldestDueAgeMs: number;
  /** Age of the oldest pending row by creation, ms. */
  oldestPendingAgeMs: number;
  lastSentAt?: string;
  /** Failed rows per type, most first (at most 10). */
  failedByType: Array<{ type: string; count: number; lastError: string }>;
}

type PgClient = {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
};

/** Reads the outbox table's figures with `pg` (parameterized; the table name is validated, then quoted). */
export async function readOutboxStats(databaseUrl: string, table: string): Promise<OutboxTableReport> {
  if (!isValidTableName(table))
    throw new UsageError(`MESSAGING_OUTBOX_TABLE is not a valid table name: ${JSON.stringify(table)}`);
  let pg: { Client: new (o: object) => PgClient };
  try {
    pg = require('pg');
  } catch {
    throw new UsageError('outbox stats needs the "pg" package installed');
  }
  const t = quoteTable(table);
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 10_000,
    application_name: 'nestjs-messaging-cli',
  });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*) FILTER (WHERE status = $1)::int AS pending, ` +
        `count(*) FILTER (WHERE status = $1 AND available_at <= now())::int AS due, ` +
        `count(*) FILTER (WHERE status = $2)::int AS failed, count(*) FILTER (WHERE status = $3)::int AS sent, ` +
        `COALESCE(extract(epoch FROM now() - min(available_at) FILTER (WHERE status = $1 AND available_at <= now())) * 1000, 0)::float8 AS oldest_due, ` +
        `COALESCE(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = $1)) * 1000, 0)::float8 AS oldest_pending, ` +
        `max(sent_at) AS last_sent FROM ${t}`,
      ['pending', 'failed', 'sent'],
    );
    const failedRows = await client.query(
      `SELECT type, count(*)::int AS count, max(last_error) AS last_error FROM ${t} WHERE status = $1 ` +
        `GROUP BY type ORDER BY count(*) DESC, type LIMIT $2`,
      ['failed', 10],
    );
    const r = rows[0];
    return {
      table,
      pending: Number(r.pending),
      due: Number(r.due),
      failed: Number(r.failed),
      sent: Number(r.sent),
      oldestDueAgeMs: Math.max(0, Math.round(Number(r.oldest_due))),
      oldestPendingAgeMs: Math.max(0, Math.round(Number(r.oldest_pending))),
      lastSentAt: r.last_sent ? new Date(r.last_sent as string).toISOString() : undefined,
      failedByType: failedRows.rows.map((f) => ({
        type: String(f.type),
        count: Number(f.count),
        lastError: String(f.last_error ?? '').slice(0, 160),
      })),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `outbox stats [--json]`: from DATABASE_URL and MESSAGING_OUTBOX_TABLE (default `messaging_outbox`). */
export async function outboxStats(
  args: ParsedArgs,
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  onlyFlags(args, ['json']);
  const url = env.DATABASE_URL;
  if (!url) throw new UsageError('DATABASE_URL is not set (postgres://user:password@host:5432/database)');
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new UsageError(`outbox stats supports PostgreSQL only, DATABASE_URL is ${maskUrl(url)}`);
  const table = env.MESSAGING_OUTBOX_TABLE || DEFAULT_OUTBOX_TABLE;
  let report: OutboxTableReport;
  try {
    report = await readOutboxStats(url, table);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') {
      io.err(`table ${table} does not exist (set MESSAGING_OUTBOX_TABLE, or run the outbox migration)`);
      return EXIT.FAILED;
    }
    throw err;
  }
  if (args.flags.json) {
    io.out(JSON.stringify(report, null, 2));
    return EXIT.OK;
  }
  io.out(`outbox ${report.table} on ${maskUrl(url)}`);
  io.out(`  pending:             ${report.pending} (${report.due} due)`);
  io.out(`  failed:              ${report.failed}`);
  io.out(`  sent (kept):         ${report.sent}`);
  io.out(`  oldest due age:      ${(report.oldestDueAgeMs / 1000).toFixed(1)} s`);
  io.out(`  oldest pending age:  ${(report.oldestPendingAgeMs / 1000).toFixed(1)} s`);
  io.out(`  last sent:           ${report.lastSentAt ?? 'never'}`);
  for (const f of report.failedByType) io.out(`  failed ${f.type}: ${f.count} — ${f.lastError}`);
  return EXIT.OK;
}
