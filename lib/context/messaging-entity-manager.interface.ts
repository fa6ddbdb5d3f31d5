/**
 * The TypeORM `EntityManager` as the library hands it out (`MessageContext.manager`,
 * `MessagingTransactions.run`), declared structurally: the subset applications call, with
 * TypeORM's own signatures, so a TypeORM `EntityManager` (0.3 and 1.x) is assignable to it and
 * none of these declarations needs `typeorm`'s types (the outbox, and with it TypeORM, is optional).
 *
 * Find and update criteria are typed by the entity's keys only (TypeORM checks their values too).
 * For TypeORM's full types, name them: `transactions.run(async (manager: EntityManager) => …)`, or
 * `ctx.manager as EntityManager`.
 */

/** What a `manager` method takes to name an entity: its class, its name, or `{ type, name }`. */
export type MessagingEntityTarget<Entity> =
  (abstract new (...args: never[]) => Entity) | string | { type: Entity; name: string };

/** A partial entity, nested (TypeORM's `DeepPartial`, as used by `create` and `save`). */
export type MessagingDeepPartial<T> =
  | T
  | (T extends Array<infer U>
      ? MessagingDeepPartial<U>[]
      : T extends Map<infer K, infer V>
        ? Map<MessagingDeepPartial<K>, MessagingDeepPartial<V>>
        : T extends Set<infer M>
          ? Set<MessagingDeepPartial<M>>
          : T extends object
            ? { [K in keyof T]?: MessagingDeepPartial<T[K]> }
            : T);

/** Find conditions: an object (or several, OR-ed) keyed by the entity's properties. */
export type MessagingWhere<Entity> = { [K in keyof Entity]?: unknown } | { [K in keyof Entity]?: unknown }[];

/** Options of `find` / `findOne` (TypeORM's `FindManyOptions` / `FindOneOptions`). */
export interface MessagingFindOptions<Entity> {
  where?: MessagingWhere<Entity>;
  select?: object;
  relations?: object;
  order?: { [K in keyof Entity]?: unknown };
  skip?: number;
  take?: number;
  withDeleted?: boolean;
  lock?: object;
  cache?: boolean | number | object;
}

/**
 * Column values of `insert` / `update` (TypeORM's `QueryDeepPartialEntity`). Checked by TypeORM,
 * not here: a plain object (use `save`/`create`, or TypeORM's own type, for checked values).
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export type MessagingRow<Entity> = object;

/** Options of `save` (TypeORM's `SaveOptions`). */
export interface MessagingSaveOptions {
  data?: unknown;
  listeners?: boolean;
  transaction?: boolean;
  chunk?: number;
  reload?: boolean;
}

/** What `insert` resolves to (TypeORM's `InsertResult`, the part worth reading). */
export interface MessagingInsertResult {
  /** Primary keys of the inserted rows. */
  identifiers: Array<Record<string, unknown>>;
  /** Generated values (ids, defaults) of the inserted rows. */
  generatedMaps: Array<Record<string, unknown>>;
  /** The driver's raw result. */
  raw: unknown;
}

/** What `update` and `delete` resolve to (TypeORM's `UpdateResult` / `DeleteResult`). */
export interface MessagingWriteResult {
  /** Rows affected, when the driver reports it. */
  affected?: number | null;
  /** The driver's raw result. */
  raw: unknown;
}

/** Row selection of `update` / `delete`: a primary key (or several) or conditions. */
export type MessagingCriteria<Entity> = string | string[] | number | number[] | Date | Date[] | MessagingWhere<Entity>;

/** The part of a TypeORM `Repository<Entity>` applications call, on the transaction's connection. */
export interface MessagingRepository<Entity> {
  /** A new entity instance from a plain object (not saved). */
  create(entityLike?: MessagingDeepPartial<Entity>): Entity;
  /** Inserts or updates the entities. */
  save<T extends MessagingDeepPartial<Entity>>(entities: T[], options?: MessagingSaveOptions): Promise<(T & Entity)[]>;
  /** Inserts or updates the entity. */
  save<T extends MessagingDeepPartial<Entity>>(entity: T, options?: MessagingSaveOptions): Promise<T & Entity>;
  /** Inserts rows in one statement (no cascades, no listeners). */
  insert(entity: MessagingRow<Entity> | MessagingRow<Entity>[]): Promise<MessagingInsertResult>;
  /** Updates the rows `criteria` selects. */
  update(criteria: MessagingCriteria<Entity>, partialEntity: MessagingRow<Entity>): Promise<MessagingWriteResult>;
  /** Deletes the rows `criteria` selects. */
  delete(criteria: MessagingCriteria<Entity>): Promise<MessagingWriteResult>;
  /** Entities matching the options. */
  find(options?: MessagingFindOptions<Entity>): Promise<Entity[]>;
  /** Entities matching the conditions. */
  findBy(where: MessagingWhere<Entity>): Promise<Entity[]>;
  /** The first entity matching the options, or null. */
  findOne(options: MessagingFindOptions<Entity>): Promise<Entity | null>;
  /** The first entity matching the conditions, or null. */
  findOneBy(where: MessagingWhere<Entity>): Promise<Entity | null>;
  /** How many entities match the options. */
  count(options?: MessagingFindOptions<Entity>): Promise<number>;
  /** Whether an entity matches the options. */
  exists(options?: MessagingFindOptions<Entity>): Promise<boolean>;
}

/**
 * The TypeORM `EntityManager` of the open transaction, typed structurally (see the file's notes):
 * `query`, `create`, `save`, `insert`, `update`, `delete`, `find*`, `count`, `exists` and
 * `getRepository`, with TypeORM's signatures. Every TypeORM `EntityManager` is one.
 */
export interface MessagingEntityManager {
  /** TypeORM's `QueryRunner` of the transaction (cast to `QueryRunner` for its methods). */
  readonly queryRunner?: object;
  /**
   * Runs raw SQL in the transaction. Resolves to the driver's rows, typed by the caller:
   * `manager.query<{ id: string }[]>('SELECT id FROM orders')` (untyped, `any`, as in TypeORM).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query<T = any>(query: string, parameters?: unknown[]): Promise<T>;
  /** A new entity instance from a plain object (not saved). */
  create<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    plainObject?: MessagingDeepPartial<Entity>,
  ): Entity;
  /** New entity instances from plain objects (not saved). */
  create<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    plainObjects?: MessagingDeepPartial<Entity>[],
  ): Entity[];
  /** Inserts or updates the entities (instances of entity classes). */
  save<Entity extends object>(entities: Entity[], options?: MessagingSaveOptions): Promise<Entity[]>;
  /** Inserts or updates the entity (an instance of an entity class). */
  save<Entity extends object>(entity: Entity, options?: MessagingSaveOptions): Promise<Entity>;
  /** Inserts or updates plain objects as entities of `target`. */
  save<Entity extends object, T extends MessagingDeepPartial<Entity>>(
    target: MessagingEntityTarget<Entity>,
    entities: T[],
    options?: MessagingSaveOptions,
  ): Promise<(T & Entity)[]>;
  /** Inserts or updates a plain object as an entity of `target`. */
  save<Entity extends object, T extends MessagingDeepPartial<Entity>>(
    target: MessagingEntityTarget<Entity>,
    entity: T,
    options?: MessagingSaveOptions,
  ): Promise<T & Entity>;
  /** Inserts rows in one statement (no cascades, no listeners). */
  insert<Entity extends object>(
    target: MessagingEntityTarget<Entity>,
    entity: MessagingRow<Entity> | MessagingRow<Entity>[],
  ): Promise<MessagingInsertResult>;
  /** Updates the rows `criteria` selects. */
  update<Entity extends object>(
    target: MessagingEntityTarget<Entity>,
    criteria: MessagingCriteria<Entity>,
    partialEntity: MessagingRow<Entity>,
  ): Promise<MessagingWriteResult>;
  /** Deletes the rows `criteria` selects. */
  delete<Entity extends object>(
    target: MessagingEntityTarget<Entity>,
    criteria: MessagingCriteria<Entity>,
  ): Promise<MessagingWriteResult>;
  /** Entities matching the options. */
  find<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    options?: MessagingFindOptions<Entity>,
  ): Promise<Entity[]>;
  /** Entities matching the conditions. */
  findBy<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    where: MessagingWhere<Entity>,
  ): Promise<Entity[]>;
  /** The first entity matching the options, or null. */
  findOne<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    options: MessagingFindOptions<Entity>,
  ): Promise<Entity | null>;
  /** The first entity matching the conditions, or null. */
  findOneBy<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    where: MessagingWhere<Entity>,
  ): Promise<Entity | null>;
  /** How many entities match the options. */
  count<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    options?: MessagingFindOptions<Entity>,
  ): Promise<number>;
  /** Whether an entity matches the options. */
  exists<Entity extends object>(
    entityClass: MessagingEntityTarget<Entity>,
    options?: MessagingFindOptions<Entity>,
  ): Promise<boolean>;
  /** The entity's repository, working in this transaction. */
  getRepository<Entity extends object>(target: MessagingEntityTarget<Entity>): MessagingRepository<Entity>;
}
