import { createHash } from 'node:crypto';
import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { FailureGroup, FailureGroupScan } from '../console/console-api.interface';
import type { DeadLetterAdmin, ProgressCallback } from '../monitoring/dead-letters/dead-letter-admin.service';
import { groupFailures } from '../monitoring/dead-letters/failure-groups';
import { FailureGroupNotFoundError, PurgeTokenMismatchError } from '../errors/operations.errors';
import { OperatorLog } from './operator-log';

/**
 * Failure groups over the transport's dead letters, and the operator actions on them: retry a group
 * or one dead letter (each goes back to the one subscriber that failed, as attempt 1), purge a group
 * with a confirmation token. Every action is logged with its actor and, when the durable
 * dead-letter table is on, marked there (`replayed` / `purged`, by `DeadLetterAdmin`). Shared by the CLI and
 * `MessagingOperationsService`.
 */
export class FailureGroupAdmin {
  constructor(
    private readonly admin: Pick<DeadLetterAdmin, 'scan' | 'list' | 'find' | 'replay' | 'purge'>,
    private readonly log: OperatorLog = new OperatorLog(),
  ) {}

  /** Listings in progress, by subscriber filter: callers at the same time share one scan of the queue. */
  private readonly scans = new Map<string, Promise<FailureGroupScan>>();

  /**
   * Failure groups, largest first. Reading a broker's dead-letter queue means consuming and giving
   * back every message (RabbitMQ): concurrent callers (several console tabs) share one read.
   */
  async groups(filter: { subscriber?: string } = {}): Promise<FailureGroup[]> {
    return (await this.scan(filter)).groups;
  }

  /**
   * Failure groups of the oldest dead letters (at most `DeadLetterAdmin.scanLimit`, 10,000), with how
   * many were read and whether the queue held more. The subscriber filter applies to what was read.
   */
  scan(filter: { subscriber?: string } = {}): Promise<FailureGroupScan> {
    const subscriber = filter.subscriber;
    const key = subscriber === undefined ? '' : `=${subscriber}`;
    let scan = this.scans.get(key);
    if (!scan) {
      scan = this.admin
        .scan()
        .then(({ deadLetters, scanned, truncated }) => ({
          groups: groupFailures(
            subscriber === undefined ? deadLetters : deadLetters.filter((d) => d.subscriber === subscriber),
          ),
          scanned,
          truncated,
        }))
        .finally(() => this.scans.delete(key));
      this.scans.set(key, scan);
    }
    return scan;
  }

  /** One group by id, or undefined. */
  async group(id: string): Promise<FailureGroup | undefined> {
    return (await this.groups()).find((g) => g.id === id);
  }

  /** The group, or `FailureGroupNotFoundError`. */
  async requireGroup(id: string): Promise<FailureGroup> {
    const group = await this.group(id);
    if (!group) throw new FailureGroupNotFoundError(id);
    return group;
  }

  /** One dead letter by dead-letter id or message id. */
  find(id: string): Promise<DeadLetter | undefined> {
    return this.admin.find(id);
  }

  /** Replays the group's dead letters to the subscriber that failed; returns how many. */
  async retryGroup(id: string, actor: string, onProgress?: ProgressCallback): Promise<number> {
    const group = await this.requireGroup(id);
    const n = await this.admin.replay({ ids: group.ids }, onProgress, actor);
    this.log.action(
      actor,
      `retried failure group ${id} (${group.subscriber} ${group.errorName}): ${n} of ${group.count}`,
    );
    return n;
  }

  /** Replays one dead letter (by dead-letter id or message id); returns 1, or 0 when there is none. */
  async retryOne(id: string, actor: string): Promise<number> {
    const dl = await this.admin.find(id);
    if (!dl) return 0;
    const n = await this.admin.replay({ ids: [dl.id] }, undefined, actor);
    this.log.action(actor, `retried dead letter ${dl.id} (message ${dl.messageId ?? '?'} to ${dl.subscriber}): ${n}`);
    return n;
  }

  /** The token `purgeGroup` needs; it changes when the group does (count, last seen, ids). */
  async purgeToken(id: string): Promise<string | undefined> {
    const group = await this.group(id);
    return group && tokenOf(group);
  }

  /** Deletes the group's dead letters when `token` is its current purge token; returns how many. */
  async purgeGroup(id: string, token: string, actor: string, onProgress?: ProgressCallback): Promise<number> {
    const group = await this.requireGroup(id);
    if (typeof token !== 'string' || token !== tokenOf(group)) {
      this.log.action(actor, `purge of failure group ${id} refused: the confirmation token does not match`);
      throw new PurgeTokenMismatchError(id);
    }
    const n = await this.admin.purge({ ids: group.ids }, onProgress, actor);
    this.log.action(
      actor,
      `purged failure group ${id} (${group.subscriber} ${group.errorName}): ${n} of ${group.count}`,
    );
    return n;
  }
}

/** A short confirmation token of the group's current state (not a secret: it proves the operator saw it). */
export function tokenOf(group: FailureGroup): string {
  return createHash('sha256')
    .update([group.id, group.count, group.lastSeenAt, group.ids.join(',')].join('\u0000'))
    .digest('hex')
    .slice(0, 8);
}
