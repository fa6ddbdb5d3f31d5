import { InvalidMessageError, type ValidationFailure } from '../errors/invalid-message.error';
import { MalformedMessageError } from '../errors/malformed-message.error';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
type ClassValidator = typeof import('class-validator');
type ClassTransformer = typeof import('class-transformer');

function optionalRequire<T>(name: string): T | undefined {
  try {
    return require(name) as T;
  } catch {
    return undefined;
  }
}

interface ValidationErrorLike {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationErrorLike[];
}

/** Names on `Object.prototype`; class-transformer drops them from nested objects. */
const OBJECT_PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/** `scanPayload` verdicts. */
const enum Scan {
  Plain = 0,
  /** A `constructor` or `prototype` key somewhere: refused. */
  Shadowing = 1,
  /** A nested key named like an `Object.prototype` member: only class-transformer rebuilds it faithfully. */
  NeedsTransformer = 2,
}

/** Looks for keys that would shadow a class (`constructor`, `prototype`) at any depth (bounded). */
function scanPayload(value: unknown, depth = 0): Scan {
  if (value === null || typeof value !== 'object') return Scan.Plain;
  if (depth > 64) throw new MalformedMessageError('payload nested deeper than 64 levels');
  let verdict = Scan.Plain;
  if (Array.isArray(value)) {
    for (const v of value) {
      const inner = scanPayload(v, depth + 1);
      if (inner === Scan.Shadowing) return inner;
      verdict = verdict || inner;
    }
    return verdict;
  }
  for (const key in value) {
    if (key === 'constructor' || key === 'prototype') return Scan.Shadowing;
    if (depth > 0 && OBJECT_PROTOTYPE_NAMES.has(key)) verdict = Scan.NeedsTransformer;
    const inner = scanPayload((value as Record<string, unknown>)[key], depth + 1);
    if (inner === Scan.Shadowing) return inner;
    verdict = verdict || inner;
  }
  return verdict;
}

/**
 * How a class is rebuilt from a received payload. `direct`: the class carries no
 * class-transformer metadata (no `@Type`, `@Expose`, `@Exclude`, `@Transform` on it or an
 * ancestor), so `plainToInstance` would do exactly `new cls()` then assign each key, copying
 * nested JSON as it is — done here without its per-key metadata lookups. `reserved` holds the
 * names it would not assign (anything on the prototype chain): a payload using one of them, or
 * naming a function-valued instance field, goes through class-transformer.
 */
interface RebuildPlan {
  direct: boolean;
  reserved: Set<string>;
}

interface TransformerStorage {
  _typeMetadatas?: Map<Function, unknown>;
  _transformMetadatas?: Map<Function, unknown>;
  _exposeMetadatas?: Map<Function, unknown>;
  _excludeMetadatas?: Map<Function, unknown>;
}

function rebuildPlan(cls: Function, storage: TransformerStorage | undefined): RebuildPlan {
  const reserved = new Set<string>();
  const maps = storage && [
    storage._typeMetadatas,
    storage._transformMetadatas,
    storage._exposeMetadatas,
    storage._excludeMetadatas,
  ];
  // unknown storage layout (another class-transformer version): always use class-transformer
  if (!maps || maps.some((m) => !(m instanceof Map))) return { direct: false, reserved };
  for (let proto: unknown = cls.prototype; proto; proto = Object.getPrototypeOf(proto)) {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && maps.some((m) => m!.has(ctor))) return { direct: false, reserved };
    for (const name of Object.getOwnPropertyNames(proto)) reserved.add(name);
  }
  return { direct: true, reserved };
}

function flatten(errors: ValidationErrorLike[], prefix = ''): ValidationFailure[] {
  const out: ValidationFailure[] = [];
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints && Object.keys(e.constraints).length > 0)
      out.push({ property: path, constraints: e.constraints });
    if (e.children?.length) out.push(...flatten(e.children, path));
  }
  return out;
}

/**
 * Validates messages with class-validator (optional peer dependency) when their class declares
 * rules, and rebuilds received payloads as class instances (class-transformer when installed).
 * Classes without rules cost one cached lookup.
 */
export class MessageValidator {
  private readonly validator = optionalRequire<ClassValidator>('class-validator');
  private readonly transformer = optionalRequire<ClassTransformer>('class-transformer');
  private readonly hasRulesCache = new WeakMap<Function, boolean>();
  private readonly plans = new WeakMap<Function, RebuildPlan>();
  private readonly transformerStorage = this.transformer
    ? optionalRequire<{ defaultMetadataStorage?: TransformerStorage }>('class-transformer/cjs/storage')
        ?.defaultMetadataStorage
    : undefined;

  constructor(private readonly enabled = true) {}

  /** Whether instances of `cls` are validated. */
  hasRules(cls: Function): boolean {
    let has = this.hasRulesCache.get(cls);
    if (has === undefined) {
      has =
        this.enabled &&
        this.validator !== undefined &&
        this.validator.getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).length > 0;
      this.hasRulesCache.set(cls, has);
    }
    return has;
  }

  /**
   * `plainToInstance(cls, data)` without class-transformer when that gives the same instance (see
   * `RebuildPlan`); undefined when class-transformer must do it. `data` must be fresh (see
   * `materialize`): its nested objects are used as they are instead of copied.
   */
  private rebuildDirectly(cls: Function, data: Record<string, unknown>, scan: Scan): object | undefined {
    if (scan !== Scan.Plain) return undefined;
    let plan = this.plans.get(cls);
    if (plan === undefined) this.plans.set(cls, (plan = rebuildPlan(cls, this.transformerStorage)));
    if (!plan.direct) return undefined;
    const keys = Object.keys(data);
    for (let i = 0; i < keys.length; i++) if (plan.reserved.has(keys[i])) return undefined;
    const instance = new (cls as new () => Record<string, unknown>)();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      // class-transformer leaves function-valued fields alone (own properties only: the
      // prototype chain was checked through `reserved`)
      if (Object.prototype.hasOwnProperty.call(instance, key) && instance[key] instanceof Function) return undefined;
      const value = data[key];
      if (value !== undefined) instance[key] = value;
    }
    return instance;
  }

  /** Validates an instance about to be sent; throws `InvalidMessageError`. */
  async validateInstance(type: string, instance: object): Promise<void> {
    if (!this.hasRules(instance.constructor)) return;
    const errors = await this.validator!.validate(instance, { forbidUnknownValues: false });
    if (errors.length > 0) throw new InvalidMessageError(type, flatten(errors as ValidationErrorLike[]));
  }

  /**
   * Validates a rebuilt instance against the rules of `cls`. class-validator finds rules through
   * `instance.constructor`, which `materialize` guarantees is `cls` (payload keys cannot shadow it).
   */
  private async validateAs(type: string, cls: Function, instance: object): Promise<object> {
    if (instance.constructor !== cls)
      throw new MalformedMessageError(`${type} payload could not be rebuilt as ${cls.name}`);
    const errors = await this.validator!.validate(instance, { forbidUnknownValues: false });
    if (errors.length > 0) throw new InvalidMessageError(type, flatten(errors as ValidationErrorLike[]));
    return instance;
  }

  /**
   * Turns a received payload into an instance of `cls` (class-transformer's `plainToInstance`)
   * and validates it. Synchronous when the class has no rules: returns the instance itself, so
   * the consumer pipeline goes on without waiting a tick; else a promise of it, rejected with
   * `InvalidMessageError` (permanent) when it breaks the rules. Throws `MalformedMessageError`
   * for a payload that is not a JSON object. `fresh`: `data` is a JSON parse (or copy) nobody else
   * holds, so its nested objects may be used as they are.
   */
  materialize(type: string, cls: Function, data: unknown, fresh = false): object | Promise<object> {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new MalformedMessageError(`${type} payload must be a JSON object`);
    }
    // a "constructor" or "prototype" key would shadow the class that class-validator and
    // class-transformer look rules up by (and "__proto__" was refused by the codec)
    const scan = scanPayload(data);
    if (scan === Scan.Shadowing)
      throw new MalformedMessageError(`${type} payload has a forbidden "constructor" or "prototype" key`);
    const instance = this.transformer
      ? ((fresh ? this.rebuildDirectly(cls, data as Record<string, unknown>, scan) : undefined) ??
        (this.transformer.plainToInstance(cls as any, data) as object))
      : Object.assign(Object.create(cls.prototype), data);
    if (!this.hasRules(cls)) return instance;
    return this.validateAs(type, cls, instance);
  }
}
