/** An error as recorded with a retry or a dead letter (never the error object itself). */
export interface ErrorInfo {
  /** Error class name, e.g. `InvalidMessageError`. */
  name: string;
  /** Error message. */
  message: string;
  /** First lines of the stack trace. */
  stack?: string;
}

const STACK_LINES = 6;
const MAX_MESSAGE = 2000;

/**
 * Error details safe to record with a retry or a dead letter: name, message (bounded) and the
 * head of the stack. The one place errors are summarized, for every transport and the pipeline.
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    return {
      name: error.name || 'Error',
      message: String(error.message).slice(0, MAX_MESSAGE),
      stack: error.stack?.split('\n').slice(0, STACK_LINES).join('\n').slice(0, MAX_MESSAGE),
    };
  }
  return { name: 'NonError', message: String(error).slice(0, MAX_MESSAGE) };
}
