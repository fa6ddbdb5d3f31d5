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
  /**
   * The top application stack frame without line or column, its file from the last source/build
   * folder on and without script extension (see {@link topApplicationFrame}), e.g.
   * `OrderProjector.onCreated (orders/projector)`,
   * if one was recorded.
   */
  topFrame?: string;
}

const MAX_NORMALIZED = 300;

/** Words after which a quoted identifier names something (a constraint, a property…) and is kept. */
const NAMING_WORDS =
  'constraint|relation|column|table|index|view|sequence|schema|database|reading|property|field|function|method|module|type';
/** A quoted value, after an optional naming word (group 1). */
const QUOTED = new RegExp(
  `(\\b(?:${NAMING_WORDS})\\s+)?("(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*'|\`[^\`]*\`)`,
  'gi',
);
/** What a kept quoted value must look like: an identifier, possibly dotted (`public.orders`). */
const IDENTIFIER = /^.[A-Za-z_$][\w$.]{0,63}.$/;
/** An HTTP-status-like number after `status`, `code`, `status code`, `statusCode`, `HTTP`. */
const HTTP_STATUS = /\b((?:http(?:\s+status)?|status(?:\s*code)?|code)\s*[:=]?\s*)([1-5]\d{2})\b/gi;
const EMAIL = /[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const IPV4 = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.]*\w)/g;
/** IPv6: eight groups, or fewer with `::` (and at least one hex digit), optionally ending in an IPv4. */
const IPV6 =
  /(?<![\w:])(?=[:0-9a-f]*[0-9a-f])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?)(?::(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)/gi;
/** ULID: 26 Crockford base32 characters, the first 0-7. */
const ULID = /\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b/gi;
/** Prefixed ids (`cus_9fK2x`, `ord_8f3k2x`): lowercase prefix(es), `_`, alphanumerics with a digit. */
const PREFIXED_ID = /\b[a-z]+(?:_[a-z]+)*_(?=[A-Za-z0-9]*\d)[A-Za-z0-9]+\b/g;

/**
 * A placeholder for the `i`-th kept text: its digits written as letters `a`–`j` between two U+0001,
 * so no rule below touches it (no digit, space, `_`, `:` or `<` in it).
 */
function keptMark(i: number): string {
  return `\u0001${String(i).replace(/\d/g, (d) => 'abcdefghij'[Number(d)])}\u0001`;
}

/** The kept text a placeholder stands for. */
function keptText(kept: readonly string[], mark: string): string {
  return kept[Number(mark.replace(/[a-j]/g, (c) => String(c.charCodeAt(0) - 97)))] ?? '';
}

/**
 * The error message with what varies from one message to the next replaced by placeholders, so
 * failures of one cause share a group, while what tells causes apart is kept:
 * - replaced: quoted values → `<str>`, e-mail addresses → `<email>`, IPv4 (with a port) and IPv6
 *   addresses → `<ip>`, ISO times → `<time>`, UUIDs → `<uuid>`, ULIDs and prefixed ids (`cus_9fK2x`)
 *   → `<id>`, hex ids (`0x…`, or 12+ hex digits with a digit) → `<hex>`, standalone numbers → `<n>`;
 * - kept: a quoted identifier after a naming word (`constraint "orders_pkey"`, `relation "orders"`,
 *   `(reading 'total')`; also column, table, index, property, field, module, type…) and a 3-digit
 *   HTTP-status-like number after `status`, `code`, `status code` or `HTTP` (`status code 503`);
 * - whitespace collapsed, at most 300 characters.
 *
 * @example normalizeErrorMessage('order 42 not found (id "0190…")') // 'order <n> not found (id <str>)'
 */
export function normalizeErrorMessage(message: string): string {
  const kept: string[] = [];
  const keep = (text: string) => keptMark(kept.push(text) - 1);
  return message
    .replace(/\u0001/g, '')
    .replace(HTTP_STATUS, (_m, before: string, status: string) => before + keep(status))
    .replace(EMAIL, '<email>')
    .replace(QUOTED, (_m, word: string | undefined, quoted: string) =>
      word ? word + (IDENTIFIER.test(quoted) ? keep(quoted) : '<str>') : '<str>',
    )
    .replace(/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(IPV6, '<ip>')
    .replace(IPV4, '<ip>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(ULID, '<id>')
    .replace(PREFIXED_ID, '<id>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<hex>')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/(?<![\w.<])\d+(?:\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\u0001([a-j]+)\u0001/g, (_m, mark: string) => keptText(kept, mark))
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

/** The first application frame of a recorded stack, parsed. */
function firstApplicationFrame(
  stack: string | undefined,
  libraryRoot: string,
): { fn?: string; file: string; line: string } | undefined {
  if (!stack) return undefined;
  for (const line of stack.split('\n')) {
    if (!/^\s*at /.test(line)) continue;
    const frame = parseFrame(line);
    if (frame && isApplicationFile(frame.file, libraryRoot)) {
      return { ...frame, file: frame.file.replace(/^file:\/\//, '') };
    }
  }
  return undefined;
}

/** Folders after which a file's path is the same on every host and release (`src/`, `dist/`…). */
const ROOT_FOLDERS = new Set(['src', 'dist', 'lib', 'build', 'out']);

/**
 * The part of a file path that is the same wherever the code runs: what follows the last `src`,
 * `dist`, `lib`, `build` or `out` folder (`/app/releases/2026-12-01/dist/orders/ship.js` →
 * `orders/ship.js`), or the file's base name when there is none.
 */
export function stableFilePath(file: string): string {
  const parts = file.split(/[\\/]/).filter((p) => p !== '');
  for (let i = parts.length - 2; i >= 0; i--) {
    if (ROOT_FOLDERS.has(parts[i])) return parts.slice(i + 1).join('/');
  }
  return parts[parts.length - 1] ?? file;
}

/** Script extensions dropped from a frame's file in the key: `.ts` with source maps and `.js` without are one file. */
const SCRIPT_EXTENSION = /\.(?:[cm]?ts|[cm]?js)$/i;

/**
 * The first application frame of a recorded stack (`ErrorInfo.stack`, whose first lines are kept):
 * not in `node_modules`, not `node:internal`, not this library. Rendered as the key of a failure
 * group: `Function (path)`, the path from the last `src`/`dist`/`lib`/`build`/`out` folder on (see
 * {@link stableFilePath}) without its script extension (`.ts`, `.js`, `.mjs`, `.cjs`, `.mts`, `.cts`),
 * without line or column — so it does not depend on the working directory, the release folder,
 * where in the file the code moved on the last deploy or whether source maps were on (`ship.ts` /
 * `ship.js`) — or undefined when none was recorded. {@link topApplicationFrameAt} gives the frame with its line, for display.
 *
 * @example topApplicationFrame('Error\n    at Ship.on (/srv/app/dist/orders/ship.js:7:3)') // 'Ship.on (orders/ship)'
 * @param libraryRoot frames under this folder count as the library's own (default: this package's source).
 */
export function topApplicationFrame(stack: string | undefined, libraryRoot: string = LIBRARY_ROOT): string | undefined {
  const frame = firstApplicationFrame(stack, libraryRoot);
  if (!frame) return undefined;
  const file = stableFilePath(frame.file).replace(SCRIPT_EXTENSION, '');
  return frame.fn ? `${frame.fn} (${file})` : file;
}

/**
 * The same frame as {@link topApplicationFrame}, for display: with its line number (no column),
 * the file relative to `cwd` when under it, else as recorded (`Ship.on (dist/orders/ship.js:7)`).
 * Not part of a group's key.
 */
export function topApplicationFrameAt(
  stack: string | undefined,
  cwd: string = process.cwd(),
  libraryRoot: string = LIBRARY_ROOT,
): string | undefined {
  const frame = firstApplicationFrame(stack, libraryRoot);
  if (!frame) return undefined;
  const relative = path.isAbsolute(frame.file) ? path.relative(cwd, frame.file).split(path.sep).join('/') : frame.file;
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? frame.file : relative;
  const where = `${shown}:${frame.line}`;
  return frame.fn ? `${frame.fn} (${where})` : where;
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
