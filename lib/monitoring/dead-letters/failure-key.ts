import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { DeadLetter } from '../../dead-letter/dead-letter.interface';

/** What makes two dead letters "the same problem": the key of a failure group. */
export interface FailureKey {
  /** The subscriber that failed. */
  subscriber: string;
  /** Error class name. */
  errorName: string;
  /** The error message with ids, numbers and quoted values replaced (see {@link normalizeErrorMessage}). */
  normalizedMessage: string;
  /** The top application stack frame (see {@link topApplicationFrame}), if one was recorded. */
  topFrame?: string;
}

const MAX_NORMALIZED = 300;

/**
 * The error message with what varies from one message to the next replaced by placeholders, so
 * failures of one cause share a group: quoted values → `<str>`, ISO times → `<time>`, UUIDs →
 * `<uuid>`, hex ids (`0x…`, or 12+ hex digits with a digit) → `<hex>`, standalone numbers → `<n>`;
 * whitespace collapsed, at most 300 characters.
 *
 * @example normalizeErrorMessage('order 42 not found (id "0190…")') // 'order <n> not found (id <str>)'
 */
export function normalizeErrorMessage(message: string): string {
  return message
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '<str>')
    .replace(/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<hex>')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/(?<![\w.<])\d+(?:\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_NORMALIZED);
}

/** The library's own source folder (`lib/`, or `dist/lib/` when built): its frames are never "application". */
const LIBRARY_ROOT = path.resolve(__dirname, '..', '..') + path.sep;

/** Parses one `    at …` line: function name (if any), file, line. */
function parseFrame(line: string): { fn?: string; file: string; line: string } | undefined {
  const m = /^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+)(?::\d+)?\)?\s*$/.exec(line);
  if (!m) return undefined;
  return { fn: m[1], file: m[2], line: m[3] };
}

/** Whether a frame's file is application code: not node_modules, node internals or this library. */
function isApplicationFile(file: string, libraryRoot: string): boolean {
  if (file.startsWith('node:') || file.startsWith('internal/') || file === '<anonymous>' || file === 'native') {
    return false;
  }
  const normalized = file.replace(/^file:\/\//, '');
  if (/[\\/]node_modules[\\/]/.test(normalized)) return false;
  return !normalized.startsWith(libraryRoot);
}

/**
 * The first application frame of a recorded stack (`ErrorInfo.stack`, whose first lines are kept):
 * not in `node_modules`, not `node:internal`, not this library. Rendered as
 * `Function (path/relative/to/cwd.ts:line)` (absolute outside the working directory) — columns dropped — or undefined when none was recorded.
 *
 * @param libraryRoot frames under this folder count as the library's own (default: this package's source).
 */
export function topApplicationFrame(
  stack: string | undefined,
  cwd: string = process.cwd(),
  libraryRoot: string = LIBRARY_ROOT,
): string | undefined {
  if (!stack) return undefined;
  for (const line of stack.split('\n')) {
    if (!/^\s*at /.test(line)) continue;
    const frame = parseFrame(line);
    if (!frame || !isApplicationFile(frame.file, libraryRoot)) continue;
    const file = frame.file.replace(/^file:\/\//, '');
    // relative to the working directory when under it (stable across hosts), else as recorded
    const relative = path.isAbsolute(file) ? path.relative(cwd, file).split(path.sep).join('/') : file;
    const shown = relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
    const where = `${shown}:${frame.line}`;
    return frame.fn ? `${frame.fn} (${where})` : where;
  }
  return undefined;
}

/** The failure key of a dead letter. */
export function failureKeyOf(deadLetter: DeadLetter): FailureKey {
  return {
    subscriber: deadLetter.subscriber,
    errorName: deadLetter.error.name,
    normalizedMessage: normalizeErrorMessage(deadLetter.error.message),
    topFrame: topApplicationFrame(deadLetter.error.stack),
  };
}

/** The stable id of a failure key: the first 16 hex digits of the SHA-256 of its fields. */
export function failureGroupId(key: FailureKey): string {
  const text = [key.subscriber, key.errorName, key.normalizedMessage, key.topFrame ?? ''].join('\u0000');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
