import { PermanentMessageError } from './permanent-message.error';

/** A message's schema version is newer than the subscriber understands, or no upcaster bridges the gap. */
export class UnknownMessageVersionError extends PermanentMessageError {
  constructor(
    readonly messageType: string,
    readonly version: number,
    readonly expected: number,
    detail?: string,
  ) {
    super(
      `${messageType} version ${version} cannot be handled by a subscriber of version ${expected}` +
        (detail ? `: ${detail}` : ''),
    );
  }
}
