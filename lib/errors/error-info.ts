import type { ErrorInfo } from '../transport/transport.interface';

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
