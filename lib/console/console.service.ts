import { Inject, Injectable, Logger } from '@nestjs/common';
import { MessagingMonitor } from '../monitoring/messaging-monitor.service';
import type { MessagingSnapshot } from '../monitoring/messaging-snapshot.interface';
import type {
  DryRunResult,
  FailureGroup,
  FailureGroupScan,
  Journey,
  MessagingOperations,
} from './console-api.interface';
import type { ConsoleAction, ResolvedConsoleOptions } from './console-options.interface';
import { MESSAGING_CONSOLE_OPERATIONS, MESSAGING_CONSOLE_OPTIONS } from './console.tokens';
import { clean } from './console-access.guard';

/** At most this many dead-letter ids per group go to the page (the count says how many there are). */
const IDS_SHOWN = 100;

/**
 * What the console's API does: reads the monitor and the operations back end, and performs the
 * operator actions, each logged (`MessagingConsole`) with the actor and passed to `onAction`.
 */
@Injectable()
export class MessagingConsoleService {
  private readonly logger = new Logger('MessagingConsole');

  constructor(
    @Inject(MESSAGING_CONSOLE_OPTIONS) readonly options: ResolvedConsoleOptions,
    @Inject(MESSAGING_CONSOLE_OPERATIONS) private readonly operations: MessagingOperations,
    private readonly monitor: MessagingMonitor,
  ) {}

  /** The monitor's snapshot: transport, outbox, subscribers, dead-letter queue, breaches. */
  overview(): Promise<MessagingSnapshot> {
    return this.monitor.snapshot();
  }

  /** Failure groups, largest first (built from at most the oldest 10,000 dead letters: see `groupScan`). */
  async groups(subscriber?: string): Promise<FailureGroup[]> {
    return (await this.groupScan(subscriber)).groups;
  }

  /**
   * Failure groups, largest first, with how many dead letters were read and whether the queue held
   * more (a back end without `failureGroupScan` gives the groups only: `scanned` is then their sum).
   */
  async groupScan(subscriber?: string): Promise<FailureGroupScan> {
    const filter = subscriber ? { subscriber } : undefined;
    const scan = this.operations.failureGroupScan
      ? await this.operations.failureGroupScan(filter)
      : await this.operations.failureGroups(filter).then((groups) => ({
          groups,
          scanned: groups.reduce((n, g) => n + g.count, 0),
          truncated: false,
        }));
    return { ...scan, groups: scan.groups.map(trimmed) };
  }

  /** One group with its current purge token, or undefined. */
  async group(id: string): Promise<{ group: FailureGroup; purgeToken?: string } | undefined> {
    const group = await this.operations.failureGroup(id);
    if (!group) return undefined;
    const purgeToken = await this.operations.purgeToken(id);
    return { group: trimmed(group), ...(purgeToken !== undefined ? { purgeToken } : {}) };
  }

  /** Replays a group to the subscriber that failed. */
  retryGroup(id: string, actor: string): Promise<number> {
    return this.act('retry-group', id, actor, () => this.operations.retryGroup(id, actor), count);
  }

  /** Replays one dead letter. */
  retryOne(deadLetterId: string, actor: string): Promise<number> {
    return this.act('retry-one', deadLetterId, actor, () => this.operations.retryOne(deadLetterId, actor), count);
  }

  /** Deletes a group's dead letters, when `token` is its current purge token. */
  purgeGroup(id: string, token: string, actor: string): Promise<number> {
    return this.act('purge-group', id, actor, () => this.operations.purgeGroup(id, token, actor), count);
  }

  /** Dry-runs a sample of a group. */
  dryRunGroup(id: string, actor: string, sample = this.options.dryRunSample): Promise<DryRunResult[]> {
    return this.act(
      'dry-run-group',
      id,
      actor,
      () => this.operations.dryRunGroup(id, sample),
      (r) => r.length,
    );
  }

  /** Dry-runs one dead letter. */
  dryRunOne(deadLetterId: string, actor: string): Promise<DryRunResult> {
    return this.act(
      'dry-run-one',
      deadLetterId,
      actor,
      () => this.operations.dryRun(deadLetterId),
      () => 1,
    );
  }

  /** The causation tree of a correlation or message id. */
  journey(id: string): Promise<Journey> {
    return this.operations.journey(id);
  }

  private async act<T>(
    action: ConsoleAction['action'],
    target: string,
    actor: string,
    run: () => Promise<T>,
    counted: (result: T) => number,
  ): Promise<T> {
    const who = clean(actor) || 'anonymous';
    const what = `${action} ${clean(target)}`;
    let result: T;
    try {
      result = await run();
    } catch (err) {
      const error = clean((err as Error)?.message ?? String(err));
      this.logger.warn(`${what} by ${who} failed: ${error}`);
      this.notify({ action, target, actor: who, outcome: 'failed', error, at: new Date().toISOString() });
      throw err;
    }
    const n = counted(result);
    this.logger.log(`${what} by ${who}: ${n} dead letter${n === 1 ? '' : 's'}${outcomeSummary(result)}`);
    this.notify({ action, target, actor: who, outcome: 'done', count: n, at: new Date().toISOString() });
    return result;
  }

  private notify(action: ConsoleAction): void {
    try {
      this.options.onAction?.(action);
    } catch (err) {
      this.logger.warn(`onAction hook failed: ${clean((err as Error)?.message ?? String(err))}`);
    }
  }
}

function count(n: number): number {
  return n;
}

/** For dry runs: ` (3 would succeed, 2 would fail)`. */
function outcomeSummary(result: unknown): string {
  const results = Array.isArray(result) ? result : isDryRun(result) ? [result] : [];
  if (results.length === 0) return '';
  const ok = results.filter((r: DryRunResult) => r.outcome === 'would-succeed').length;
  return ` (${ok} would succeed, ${results.length - ok} would fail)`;
}

function isDryRun(value: unknown): value is DryRunResult {
  return typeof value === 'object' && value !== null && 'outcome' in value && 'deadLetterId' in value;
}

/** The group as the page gets it: `ids` cut to the first 100 (`count` says how many). */
function trimmed(group: FailureGroup): FailureGroup {
  return group.ids.length > IDS_SHOWN ? { ...group, ids: group.ids.slice(0, IDS_SHOWN) } : group;
}
