import { Injectable } from '@nestjs/common';
import type {
  DryRunResult,
  FailureGroup,
  FailureGroupScan,
  Journey,
  MessagingOperations,
} from '../console/console-api.interface';
import { DeadLetterAdmin } from '../monitoring/dead-letters/dead-letter-admin.service';
import { OutboxIntegration } from '../outbox/outbox-integration';
import { HandlerRegistry } from '../discovery/handler.registry';
import { UpcasterRegistry } from '../message/upcaster.registry';
import { MessageValidator } from '../message/message.validator';
import { FailureGroupAdmin } from './failure-group-admin';
import { OperatorLog } from './operator-log';
import { DryRunner } from './dry-run';
import { readJourney } from './journey';
import type { DeadLetterRecord, DeadLetterRecordQuery } from '../dead-letter/dead-letter-records';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { DeadLetterNotFoundError, InvalidJourneyQueryError } from '../errors/operations.errors';

const DEFAULT_SAMPLE = 5;
const MAX_SAMPLE = 50;

/**
 * Operations on failures and journeys (issue 16), injectable from the package root and used by the
 * console page and the CLI: failure groups (subscriber + error class + normalized message + top
 * application frame), retry of a group or one dead letter, purge of a group with a confirmation
 * token, dry runs and message journeys. Operator actions are logged with their actor.
 */
@Injectable()
export class MessagingOperationsService implements MessagingOperations {
  private readonly log = new OperatorLog();
  private admin?: FailureGroupAdmin;

  constructor(
    private readonly deadLetters: DeadLetterAdmin,
    private readonly outbox: OutboxIntegration,
    private readonly registry: HandlerRegistry,
    private readonly upcasters: UpcasterRegistry,
    private readonly validator: MessageValidator,
  ) {}

  /** The group admin, made on first use. */
  private groups(): FailureGroupAdmin {
    return (this.admin ??= new FailureGroupAdmin(this.deadLetters, this.log));
  }

  /** Failure groups of the dead letters now in the queue (of one subscriber, with `filter`), largest first. */
  failureGroups(filter?: { subscriber?: string }): Promise<FailureGroup[]> {
    return this.groups().groups(filter);
  }

  /**
   * Failure groups as `failureGroups`, with how many dead letters were read and whether the queue
   * held more than the 10,000 oldest that are read (the groups are then partial).
   */
  failureGroupScan(filter?: { subscriber?: string }): Promise<FailureGroupScan> {
    return this.groups().scan(filter);
  }

  /** One failure group by its id, or undefined (drained, purged, never existed). */
  failureGroup(id: string): Promise<FailureGroup | undefined> {
    return this.groups().group(id);
  }

  /** Replays the group's dead letters to the subscriber that failed; returns how many. `FailureGroupNotFoundError` for an unknown group. */
  retryGroup(id: string, actor: string): Promise<number> {
    return this.groups().retryGroup(id, actor);
  }

  /** Replays one dead letter (by dead-letter id or message id) to the subscriber that failed; 1, or 0 when there is none. */
  retryOne(deadLetterId: string, actor: string): Promise<number> {
    return this.groups().retryOne(deadLetterId, actor);
  }

  /** The confirmation token `purgeGroup` needs (it changes when the group does), or undefined for an unknown group. */
  purgeToken(id: string): Promise<string | undefined> {
    return this.groups().purgeToken(id);
  }

  /** Deletes the group's dead letters when `token` is its current purge token (`PurgeTokenMismatchError` otherwise); returns how many. */
  purgeGroup(id: string, token: string, actor: string): Promise<number> {
    return this.groups().purgeGroup(id, token, actor);
  }

  /**
   * Runs the failed subscriber's handler on one dead letter (by dead-letter id or message id) in a
   * transaction that is always rolled back, publishing captured; see `DryRunner` for what it cannot
   * undo. `DeadLetterNotFoundError` when there is no such dead letter, `DryRunUnavailableError`
   * without the PostgreSQL outbox (off, or on SQLite).
   */
  async dryRun(deadLetterId: string): Promise<DryRunResult> {
    const dl = await this.groups().find(deadLetterId);
    if (!dl) throw new DeadLetterNotFoundError(deadLetterId);
    return this.logged(await this.runner().run(dl));
  }

  /** Dry-runs up to `sample` (default 5, at most 50) dead letters of a group, newest first, one after another. */
  async dryRunGroup(id: string, sample = DEFAULT_SAMPLE): Promise<DryRunResult[]> {
    const group = await this.groups().requireGroup(id);
    const n = Number.isInteger(sample) ? Math.min(MAX_SAMPLE, Math.max(1, sample)) : DEFAULT_SAMPLE;
    const ids = new Set(group.ids.slice(-n));
    const letters = (await this.deadLetters.list({ ids: [...ids] })).reverse();
    const runner = this.runner();
    const results: DryRunResult[] = [];
    for (const dl of letters) results.push(this.logged(await runner.run(dl)));
    return results;
  }

  /**
   * The journey of a correlation id or message id: from this service's outbox and inbox tables
   * (when the outbox is on), the durable dead-letter record and the dead-letter queue (its oldest
   * 10,000: `deadLettersTruncated` says when it held more).
   */
  journey(id: string): Promise<Journey> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
      return Promise.reject(new InvalidJourneyQueryError(id));
    }
    const feature = this.outbox.feature;
    return readJourney(id, {
      tables: feature && {
        rows: (sql, params) => feature.dataSource.query(sql, params),
        database: feature.database,
        outboxTable: feature.options.outboxTable,
        inboxTable: feature.options.inboxTable,
      },
      records: feature?.deadLetters,
      deadLetterScan: () => this.deadLetters.scan(),
    });
  }

  /**
   * The durable dead-letter history (newest first): every dead letter of this service with what
   * became of it (`dead`, `replayed`, `purged`, by whom). Needs `outbox.deadLetterTable`
   * (`InvalidConfigurationError` otherwise).
   */
  deadLetterHistory(query?: DeadLetterRecordQuery): Promise<DeadLetterRecord[]> {
    const records = this.outbox.feature?.deadLetters;
    if (!records) {
      return Promise.reject(
        new InvalidConfigurationError('the dead-letter history needs the durable table: set outbox.deadLetterTable'),
      );
    }
    return records.list(query);
  }

  /** Logs a dry run's outcome (the caller, e.g. the console page, logs who asked for it). */
  private logged(result: DryRunResult): DryRunResult {
    this.log.note(
      `dry run of dead letter ${result.deadLetterId} (${result.subscriber}): ${result.outcome}` +
        (result.error ? ` (${result.error.name})` : '') +
        (result.captured.length > 0 ? `, ${result.captured.length} publish(es) captured` : ''),
    );
    return result;
  }

  private runner(): DryRunner {
    const feature = this.outbox.feature;
    return new DryRunner({
      registry: this.registry,
      upcasters: this.upcasters,
      validator: this.validator,
      outbox: feature && { store: feature.store, outboxTable: feature.options.outboxTable },
    });
  }
}
