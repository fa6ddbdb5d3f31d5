/** Base class of every error this library throws. */
export class MessagingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
