import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import { iso, type DeadLetterRecords, type SqlRows } from '../dead-letter/dead-letter-records';
import type { Journey, JourneyMessage } from '../console/console-api.interface';
import { decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import { quoteTable } from '../outbox/outbox-options.validator';
import type { OutboxDatabase } from '../outbox/outbox.ddl';
import type { DeadLetterScan } from '../monitoring/dead-letters/dead-letter-admin.service';

/** Where a journey is read from; each source is optional. */
export interface JourneySources {
  /** The outbox and inbox tables (the outbox's DataSource, or a `pg` client for the CLI). */
  tables?: { rows: SqlRows; database: OutboxDatabase; outboxTable: string; inboxTable: string };
  /** The durable dead-letter record. */
  records?: DeadLetterRecords;
  /** The transport's dead letters now. */
  deadLetters?: () => Promise<DeadLetter[]>;
  /** The transport's dead letters now, with whether the queue held more (used instead of `deadLetters`). */
  deadLetterScan?: () => Promise<DeadLetterScan>;
}

/** Most outbox rows one journey reads. */
const MAX_ROWS = 2000;

type Node = JourneyMessage & { sortTime: string };

/** `%` and `_` and `\` taken literally in a LIKE pattern with `ESCAPE '\'`. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Reads the journey of a correlation id or a message id (a message id is resolved to its
 * correlation id first): every message of the flow this service's outbox recorded (who published
 * what, when, its outbox state), which subscribers' inboxes recorded handling it, the dead letters
 * of it (durable record and the dead-letter queue), arranged as a causation tree. A message the
 * outbox does not know but the inbox handled (published by another service) appears as a node of
 * type `?`. Outbox rows are found by their payload (no index: an operator's query, bounded to 2000 rows).
 * With `deadLetterScan`, the journey says how many dead letters of the queue were read and whether it held more.
 */
export async function readJourney(query: string, sources: JourneySources): Promise<Journey> {
  const scan = await sources.deadLetterScan?.();
  const live = scan?.deadLetters ?? (await sources.deadLetters?.()) ?? [];
  const correlationId = await resolveCorrelation(query, sources, live);
  const nodes = new Map<string, Node>();
  const node = (env: MessageEnvelope): Node => {
    let n = nodes.get(env.id);
    if (!n) {
      n = {
        id: env.id,
        type: env.type,
        source: env.source,
        time: env.time,
        correlationId: env.correlationId,
        causationId: env.causationId,
        handledBy: [],
        deadLetters: [],
        children: [],
        sortTime: env.time,
      };
      nodes.set(env.id, n);
    }
    return n;
  };
  const tables = sources.tables;
  if (tables) {
    for (const row of await outboxRows(tables, correlationId)) {
      const env = decoded(String(row.payload));
      if (!env || env.correlationId !== correlationId) continue;
      const n = node(env);
      // the original row (every subscriber), not a retry row scheduled for one
      if (!n.outbox || row.destination === null) {
        n.outbox = {
          status: String(row.status),
          attempts: Number(row.attempts),
          createdAt: iso(row.created_at),
          ...(row.sent_at != null ? { sentAt: iso(row.sent_at) } : {}),
          ...(row.last_error != null ? { lastError: String(row.last_error) } : {}),
        };
      }
    }
  }
  const seenDeadLetters = new Set<string>();
  const addDeadLetter = (
    env: MessageEnvelope | undefined,
    messageId: string | undefined,
    d: JourneyMessage['deadLetters'][number],
  ) => {
    if (seenDeadLetters.has(d.id)) return;
    const n = env ? node(env) : messageId !== undefined ? nodes.get(messageId) : undefined;
    if (!n) return;
    seenDeadLetters.add(d.id);
    n.deadLetters.push(d);
  };
  for (const dl of live) {
    if (dl.envelope?.correlationId !== correlationId) continue;
    addDeadLetter(dl.envelope, dl.messageId, {
      id: dl.id,
      subscriber: dl.subscriber,
      error: dl.error,
      attempts: dl.attempts,
      deadLetteredAt: dl.deadLetteredAt,
      status: 'dead',
    });
  }
  for (const r of (await sources.records?.list({ correlationId, limit: MAX_ROWS })) ?? []) {
    if (r.messageId === undefined) continue;
    if (!nodes.has(r.messageId)) {
      nodes.set(r.messageId, {
        id: r.messageId,
        type: r.type ?? '?',
        correlationId,
        ...(r.causationId !== undefined ? { causationId: r.causationId } : {}),
        handledBy: [],
        deadLetters: [],
        children: [],
        sortTime: r.firstFailureAt,
      });
    }
    addDeadLetter(undefined, r.messageId, {
      id: r.id,
      subscriber: r.subscriber,
      error: r.error,
      attempts: r.attempts,
      deadLetteredAt: r.deadLetteredAt,
      status: r.status,
      ...(r.statusBy !== undefined ? { statusBy: r.statusBy } : {}),
    });
  }
  if (tables) await addHandled(tables, nodes, correlationId);
  const journey = tree(query, correlationId, nodes);
  return scan ? { ...journey, deadLettersScanned: scan.scanned, deadLettersTruncated: scan.truncated } : journey;
}

function decoded(payload: string): MessageEnvelope | undefined {
  try {
    return decodeEnvelope(payload);
  } catch {
    return undefined;
  }
}

/** The correlation id of `query`: its own when it is a message id we know, else `query` itself. */
async function resolveCorrelation(query: string, sources: JourneySources, live: DeadLetter[]): Promise<string> {
  const tables = sources.tables;
  if (tables) {
    const p = tables.database === 'postgres' ? '$1' : '?';
    const [row] = await tables.rows(
      `SELECT payload FROM ${quoteTable(tables.outboxTable)} WHERE message_id = ${p} LIMIT 1`,
      [query],
    );
    const env = row ? decoded(String(row.payload)) : undefined;
    if (env) return env.correlationId;
  }
  const dl = live.find((d) => d.messageId === query || d.id === query);
  if (dl?.envelope) return dl.envelope.correlationId;
  const [record] = (await sources.records?.list({ messageIds: [query], limit: 1 })) ?? [];
  return record?.correlationId ?? query;
}

/** Outbox rows whose payload names the correlation id (then checked exactly, decoded). */
async function outboxRows(
  tables: NonNullable<JourneySources['tables']>,
  correlationId: string,
): Promise<Record<string, unknown>[]> {
  const pg = tables.database === 'postgres';
  const pattern = `%${likeLiteral(`"correlationid":${JSON.stringify(correlationId)}`)}%`;
  return tables.rows(
    `SELECT message_id, payload, destination, status, attempts, created_at, sent_at, last_error ` +
      `FROM ${quoteTable(tables.outboxTable)} WHERE payload LIKE ${pg ? '$1' : '?'} ESCAPE '\\' ` +
      `ORDER BY id LIMIT ${pg ? '$2' : '?'}`,
    [pattern, MAX_ROWS],
  );
}

/** Inbox rows of the journey's messages and of their causes (a cause from another service becomes a `?` node). */
async function addHandled(
  tables: NonNullable<JourneySources['tables']>,
  nodes: Map<string, Node>,
  correlationId: string,
): Promise<void> {
  const ids = new Set<string>();
  for (const n of nodes.values()) {
    ids.add(n.id);
    if (n.causationId !== undefined) ids.add(n.causationId);
  }
  if (nodes.size === 0) ids.add(correlationId); // the first message of a flow carries its own id as correlation id
  const list = [...ids].slice(0, MAX_ROWS);
  if (list.length === 0) return;
  const pg = tables.database === 'postgres';
  const rows = await tables.rows(
    `SELECT message_id, subscriber, processed_at FROM ${quoteTable(tables.inboxTable)} WHERE message_id ` +
      (pg ? `= ANY($1::varchar[])` : `IN (${list.map(() => '?').join(', ')})`) +
      ` ORDER BY processed_at`,
    pg ? [list] : list,
  );
  for (const r of rows) {
    const id = String(r.message_id);
    const processedAt = iso(r.processed_at);
    let n = nodes.get(id);
    if (!n) {
      n = { id, type: '?', handledBy: [], deadLetters: [], children: [], sortTime: processedAt, correlationId };
      nodes.set(id, n);
    }
    n.handledBy.push({ subscriber: String(r.subscriber), processedAt });
  }
}

/** Arranges the nodes by causation; a message whose cause is unknown is a root; cycles are broken. */
function tree(query: string, correlationId: string, nodes: Map<string, Node>): Journey {
  const byTime = [...nodes.values()].sort((a, b) => a.sortTime.localeCompare(b.sortTime) || a.id.localeCompare(b.id));
  const children = new Map<string, Node[]>();
  for (const n of byTime) {
    const parent = n.causationId;
    if (parent === undefined || parent === n.id || !nodes.has(parent)) continue;
    let list = children.get(parent);
    if (!list) children.set(parent, (list = []));
    list.push(n);
  }
  const placed = new Set<string>();
  const build = (n: Node): JourneyMessage => {
    placed.add(n.id);
    const { sortTime: _sortTime, ...message } = n;
    message.children = (children.get(n.id) ?? []).filter((c) => !placed.has(c.id)).map(build);
    return message;
  };
  const roots: JourneyMessage[] = [];
  for (const n of byTime) {
    const parent = n.causationId;
    if (parent === undefined || parent === n.id || !nodes.has(parent)) roots.push(build(n));
  }
  for (const n of byTime) if (!placed.has(n.id)) roots.push(build(n)); // a causation cycle: cut at its oldest
  return { query, correlationId: nodes.size > 0 ? correlationId : undefined, roots, total: nodes.size };
}
