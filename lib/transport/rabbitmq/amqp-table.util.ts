/**
 * Upper bound of the encoded size of an AMQP field table as amqplib writes it (`codec.encodeTable`),
 * computed without encoding. amqplib encodes the `headers` property into a fixed 64 KiB scratch
 * buffer and throws a `RangeError` mid-publish when it does not fit, so publishers measure first.
 */
export function encodedTableSize(table: Record<string, unknown> | undefined): number {
  let size = 4;
  if (!table) return size;
  for (const key in table) {
    const value = table[key];
    if (value === undefined) continue;
    size += 1 + Buffer.byteLength(key) + encodedValueSize(value);
  }
  return size;
}

/** Upper bound of one encoded field value, tag included. */
export function encodedValueSize(value: unknown): number {
  if (typeof value === 'string') return 5 + Buffer.byteLength(value);
  if (typeof value === 'number') return 9;
  if (typeof value === 'boolean') return 2;
  if (value === null || typeof value !== 'object') return 9; // void, or a value amqplib rejects anyway
  if (Buffer.isBuffer(value)) return 5 + value.length;
  if (Array.isArray(value)) return 5 + value.reduce((n: number, item) => n + encodedValueSize(item), 0);
  if (Object.prototype.hasOwnProperty.call(value, '!')) {
    const typed = (value as { value?: unknown }).value;
    if (typeof typed === 'string') return 5 + Buffer.byteLength(typed);
    if (Buffer.isBuffer(typed)) return 5 + typed.length;
    return 9;
  }
  return 1 + encodedTableSize(value as Record<string, unknown>);
}

/** Cuts `value` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(value: string, maxBytes: number): string {
  if (value.length * 3 <= maxBytes || Buffer.byteLength(value) <= maxBytes) return value;
  let cut = Buffer.from(value, 'utf8').subarray(0, maxBytes).toString('utf8');
  // a split multi-byte character decodes to U+FFFD: drop it
  if (cut.endsWith('\uFFFD') && !value.startsWith(cut)) cut = cut.slice(0, -1);
  return cut;
}

/** Largest `headers` table amqplib can encode (its properties scratch buffer is 64 KiB). */
export const MAX_ENCODED_HEADERS_BYTES = 65_536;
