import { Inject, Injectable } from '@nestjs/common';
import { MESSAGING_OPTIONS } from '../messaging.tokens';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import type { DryRunResult, FailureGroup, Journey, MessagingOperations } from '../console/console-api.interface';
import { DeadLetterAdmin } from '../monitoring/dead-letters/dead-letter-admin.service';
import { OutboxIntegration } from '../outbox/outbox-integration';
import { HandlerRegistry } from '../discovery/handler.registry';
import { UpcasterRegistry } from '../message/upcaster.registry';
import { MessageValidator } from '../message/message.validator';
import { FailureGroupAdmin } from './failure-group-admin';
import { OperatorLog } from './operator-log';

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
    @Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions,
    private readonly deadLetters: DeadLetterAdmin,
    private readonly outbox: OutboxIntegration,
    private readonly registry: HandlerRegistry,
    private readonly upcasters: UpcasterRegistry,
    private readonly validator: MessageValidator,
  ) {}

  /** The group admin, made on first use (the outbox, and with it the durable record, is set up at module init). */
  private groups(): FailureGroupAdmin {
    return (this.admin ??= new FailureGroupAdmin(this.deadLetters, this.outbox.feature?.deadLetters, this.log));
  }

  failureGroups(filter?: { subscriber?: string }): Promise<FailureGroup[]> {
    return this.groups().groups(filter);
  }

  failureGroup(id: string): Promise<FailureGroup | undefined> {
    return this.groups().group(id);
  }

  retryGroup(id: string, actor: string): Promise<number> {
    return this.groups().retryGroup(id, actor);
  }

  retryOne(deadLetterId: string, actor: string): Promise<number> {
    return this.groups().retryOne(deadLetterId, actor);
  }

  purgeToken(id: string): Promise<string | undefined> {
    return this.groups().purgeToken(id);
  }

  purgeGroup(id: string, token: string, actor: string): Promise<number> {
    return this.groups().purgeGroup(id, token, actor);
  }

  async dryRun(_deadLetterId: string): Promise<DryRunResult> {
    void this.options;
    void this.registry;
    void this.upcasters;
    void this.validator;
    throw new Error('not implemented yet');
  }

  async dryRunGroup(_id: string, _sample?: number): Promise<DryRunResult[]> {
    throw new Error('not implemented yet');
  }

  async journey(_id: string): Promise<Journey> {
    throw new Error('not implemented yet');
  }
}
