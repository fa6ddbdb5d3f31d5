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

/** Whether `value` has a `constructor` or `prototype` key at any depth (bounded). */
function hasShadowingKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > 64) throw new MalformedMessageError('payload nested deeper than 64 levels');
  if (Array.isArray(value)) return value.some((v) => hasShadowingKey(v, depth + 1));
  for (const key in value) {
    if (key === 'constructor' || key === 'prototype') return true;
    if (hasShadowingKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
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
   * for a payload that is not a JSON object.
   */
  materialize(type: string, cls: Function, data: unknown): object | Promise<object> {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new MalformedMessageError(`${type} payload must be a JSON object`);
    }
    // a "constructor" or "prototype" key would shadow the class that class-validator and
    // class-transformer look rules up by (and "__proto__" was refused by the codec)
    if (hasShadowingKey(data))
      throw new MalformedMessageError(`${type} payload has a forbidden "constructor" or "prototype" key`);
    const instance = this.transformer
      ? (this.transformer.plainToInstance(cls as any, data) as object)
      : Object.assign(Object.create(cls.prototype), data);
    if (!this.hasRules(cls)) return instance;
    return this.validateAs(type, cls, instance);
  }
}
