/** Operations on failures and journeys (issue 16): failure groups, retry/purge, dry runs, journeys. */
export { MessagingOperationsService } from './messaging-operations.service';
export { FailureGroupAdmin, tokenOf } from './failure-group-admin';
export { OperatorLog, safeActor } from './operator-log';
export { DryRunner, type DryRunDeps } from './dry-run';
export { readJourney, type JourneySources } from './journey';
