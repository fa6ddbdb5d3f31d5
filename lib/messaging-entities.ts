import type { EntitySchema } from 'typeorm';
import type { MessagingEntitiesOptions } from './outbox/outbox.entities';

/**
 * TypeORM entity schemas of the outbox and processed-messages tables, for DataSources with
 * `synchronize: true`: `entities: [...yours, ...createMessagingEntities({ database: 'postgres' })]`.
 * (Loads TypeORM on call, so apps without a database need not install it.)
 */
export function createMessagingEntities(options: MessagingEntitiesOptions = {}): EntitySchema[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const entities = require('./outbox/outbox.entities') as typeof import('./outbox/outbox.entities');
  return entities.createMessagingEntities(options);
}
