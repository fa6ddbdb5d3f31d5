import type { EntitySchema } from 'typeorm';
import type { MessagingEntitiesOptions } from './outbox.entities';
import { requireOptional } from '../errors/missing-dependency.error';

/**
 * TypeORM entity schemas of the outbox and processed-messages tables, for DataSources with
 * `synchronize: true`: `entities: [...yours, ...createMessagingEntities({ database: 'postgres' })]`.
 * (Loads TypeORM on call, so apps without a database need not install it.)
 */
export function createMessagingEntities(options: MessagingEntitiesOptions = {}): EntitySchema[] {
  const entities = requireOptional(
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    () => require('./outbox.entities') as typeof import('./outbox.entities'),
    'typeorm',
    'createMessagingEntities',
  );
  return entities.createMessagingEntities(options);
}

/**
 * TypeORM entity schema of the durable dead-letter table (PostgreSQL, `outbox.deadLetterTable`),
 * for DataSources with `synchronize: true`. (Loads TypeORM on call.)
 */
export function createDeadLetterEntities(table?: string): EntitySchema[] {
  const entities = requireOptional(
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    () => require('./dead-letter.entities') as typeof import('./dead-letter.entities'),
    'typeorm',
    'createDeadLetterEntities',
  );
  return entities.createDeadLetterEntities(table);
}
