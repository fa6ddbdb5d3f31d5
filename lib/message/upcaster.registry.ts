import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { UnknownMessageVersionError } from '../errors/unknown-message-version.error';
import type { UpcastFunction } from './message-type';

/** An upcaster given in the module options: turns `type` version `fromVersion` into `fromVersion + 1`. */
export interface UpcasterDefinition {
  /** Message type. */
  type: string;
  /** The version it reads; it produces `fromVersion + 1`. */
  fromVersion: number;
  /** The conversion. Must be a pure function of the payload. */
  upcast: UpcastFunction;
}

/** Upcasters by (type, from-version). Upcasting walks them one version at a time. */
export class UpcasterRegistry {
  private readonly byType = new Map<string, Map<number, UpcastFunction>>();

  /** Registers one upcaster; two for the same (type, from-version) is a configuration error. */
  register(type: string, fromVersion: number, upcast: UpcastFunction): void {
    if (!Number.isInteger(fromVersion) || fromVersion < 1 || typeof upcast !== 'function') {
      throw new InvalidConfigurationError(
        `upcaster for ${type}: fromVersion must be a positive integer and upcast a function`,
      );
    }
    let versions = this.byType.get(type);
    if (!versions) this.byType.set(type, (versions = new Map()));
    const existing = versions.get(fromVersion);
    if (existing && existing !== upcast) {
      throw new InvalidConfigurationError(`two upcasters for ${type} from version ${fromVersion}; keep one`);
    }
    versions.set(fromVersion, upcast);
  }

  /**
   * Brings `data` of `type` from `version` up to `target`. Throws `UnknownMessageVersionError`
   * when `version` is newer than `target` or a step is missing.
   */
  upcast(type: string, version: number, target: number, data: unknown): unknown {
    if (version === target) return data;
    if (version > target)
      throw new UnknownMessageVersionError(type, version, target, 'the message is newer than the subscriber');
    const versions = this.byType.get(type);
    let current = data;
    for (let v = version; v < target; v++) {
      const step = versions?.get(v);
      if (!step) {
        throw new UnknownMessageVersionError(type, version, target, `no upcaster from version ${v} to ${v + 1}`);
      }
      current = step(current);
    }
    return current;
  }
}
