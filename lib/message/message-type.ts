import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { MESSAGE_METADATA } from '../decorators/metadata.keys';

/** A function that turns a payload of version `n` into version `n + 1`. */
export type UpcastFunction = (data: any) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Options of `@Message`. */
export interface MessageOptions {
  /** Schema version of this class's shape. Default: 1. */
  version?: number;
  /**
   * Upcasters from older versions, keyed by the version they read: `{ 1: (v1) => v2 }`.
   * Each turns version n into n + 1.
   */
  upcasters?: Record<number, UpcastFunction>;
  /**
   * For a command or query: the service (endpoint) that handles it. `CommandBus`/`QueryBus` of every
   * other service send it there; the service of that name handles it with its `@CommandHandler` /
   * `@QueryHandler` (see `RemoteOptions`). Default: handled in process.
   */
  endpoint?: string;
}

/** What `@Message` records on a class. */
export interface MessageInfo {
  type: string;
  version: number;
  upcasters: Record<number, UpcastFunction>;
  /** `MessageOptions.endpoint`. */
  endpoint?: string;
}

/** A message class: a constructor whose instances are messages. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MessageClass<T = any> = new (...args: any[]) => T;

/** An endpoint (service) name; the same rule as `remote.routes` keys. */
const ENDPOINT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

const TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** Whether `name` is a valid message type name (letters, digits, `. _ : -`, up to 200 chars). */
export function isValidTypeName(name: string): boolean {
  return TYPE_NAME.test(name);
}

/** Highest schema version (the CloudEvents decoder refuses a larger `dataversion`). */
const MAX_VERSION = 1_000_000;

/** Checks a type name and version; throws `InvalidConfigurationError` saying what is wrong. */
export function assertTypeAndVersion(type: unknown, version: unknown, where: string): void {
  if (typeof type !== 'string' || !isValidTypeName(type)) {
    throw new InvalidConfigurationError(
      `${where}: message type ${JSON.stringify(type)} is not valid; use 1-200 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
    );
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw new InvalidConfigurationError(
      `${where}: version ${String(version)} must be an integer from 1 to ${MAX_VERSION}`,
    );
  }
}

/**
 * Declares a class as a message with an explicit type name (never derived from the class name,
 * which minifiers change) and a schema version.
 *
 * @example
 * ```ts
 * @Message('OrderCreated', { version: 2, upcasters: { 1: (v1) => ({ ...v1, currency: 'EUR' }) } })
 * export class OrderCreated { constructor(readonly orderId: string, readonly currency: string) {} }
 * ```
 */
export function Message(type: string, options: MessageOptions = {}): ClassDecorator {
  const version = options.version ?? 1;
  assertTypeAndVersion(type, version, `@Message('${String(type)}')`);
  const endpoint = options.endpoint;
  if (endpoint !== undefined && (typeof endpoint !== 'string' || !ENDPOINT.test(endpoint))) {
    throw new InvalidConfigurationError(
      `@Message('${type}'): endpoint ${JSON.stringify(endpoint)} must be 1-100 letters, digits, ".", "_", ":" or "-"`,
    );
  }
  return (target) => {
    const info: MessageInfo = { type, version, upcasters: { ...(options.upcasters ?? {}) } };
    if (endpoint !== undefined) info.endpoint = endpoint;
    Reflect.defineMetadata(MESSAGE_METADATA, info, target);
    const key = `${type}\u0000${version}`;
    const first = declared.get(key);
    if (first === undefined) declared.set(key, target);
    else if (first !== target) duplicates.push({ type, version, classes: [first.name, target.name] });
  };
}

/** The first class declared for each type and version (process-wide, like the metadata itself). */
const declared = new Map<string, Function>();
const duplicates: Array<{ type: string; version: number; classes: [string, string] }> = [];

/**
 * Throws `InvalidConfigurationError` when two classes declare the same `@Message` type and
 * version (a received message of that type would be built as either). Called at bootstrap, so
 * the error names both classes before anything is sent or received.
 */
export function assertNoDuplicateMessageTypes(): void {
  if (duplicates.length === 0) return;
  const lines = duplicates.map(
    (d) =>
      `@Message('${d.type}'${d.version === 1 ? '' : `, { version: ${d.version} }`}) is declared by both ` +
      `${d.classes[0]} and ${d.classes[1]}`,
  );
  throw new InvalidConfigurationError(
    `${lines.join('; ')}: give each message class its own type name (or another version of the same schema)`,
  );
}

/** @internal Every class declared with `@Message` so far (the first of each type and version). */
export function declaredMessageClasses(): Function[] {
  return [...declared.values()];
}

/** The `@Message` info of a class, or undefined. Own metadata only: subclasses declare their own. */
export function getMessageInfo(cls: Function): MessageInfo | undefined {
  return Reflect.getOwnMetadata(MESSAGE_METADATA, cls) as MessageInfo | undefined;
}

/** How a message object is identified: type, version and (for class instances) its class. */
export interface ResolvedMessage {
  type: string;
  version: number;
  cls?: Function;
}

/**
 * Resolves type names and versions of message objects, caching per class.
 * A class instance needs `@Message`; a plain object needs a string `type` field.
 */
export class MessageTypeResolver {
  private readonly byClass = new WeakMap<Function, ResolvedMessage>();
  /**
   * Set by `MessagingModule.forCqrs()`: a class without `@Message` is published under its class
   * name (checked like a declared one), and this callback hears of the class (each resolve is
   * cached per class, so once).
   * @internal
   */
  deriveClassNames?: (cls: Function) => void;

  /** Type and version of `message`; `fallbackToClassName` is for in-process commands/queries only. */
  resolve(message: unknown, fallbackToClassName = false): ResolvedMessage {
    if (message === null || typeof message !== 'object') {
      throw new InvalidConfigurationError(
        `a message must be an object, got ${message === null ? 'null' : typeof message}`,
      );
    }
    const ctor = (message as object).constructor;
    if (ctor === Object || ctor === undefined) {
      const type = (message as { type?: unknown }).type;
      if (typeof type !== 'string' || !isValidTypeName(type)) {
        throw new InvalidConfigurationError(
          'a plain-object message needs a string "type" field (letters, digits, ".", "_", ":", "-")',
        );
      }
      const v = (message as { version?: unknown }).version;
      return { type, version: typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_VERSION ? v : 1 };
    }
    let resolved = this.byClass.get(ctor);
    if (resolved === undefined) {
      const info = getMessageInfo(ctor);
      if (info) {
        resolved = { type: info.type, version: info.version, cls: ctor };
      } else if (fallbackToClassName) {
        resolved = { type: ctor.name, version: 1, cls: ctor };
      } else if (this.deriveClassNames !== undefined) {
        assertTypeAndVersion(ctor.name, 1, `event class ${ctor.name || '(anonymous)'} (no @Message)`);
        resolved = { type: ctor.name, version: 1, cls: ctor };
        this.deriveClassNames(ctor);
      } else {
        throw new InvalidConfigurationError(
          `class ${ctor.name} has no message type: decorate it with @Message('${ctor.name}') ` +
            `(type names are explicit so minification or renaming cannot change them)`,
        );
      }
      this.byClass.set(ctor, resolved);
    }
    return resolved;
  }
}
