import * as path from 'node:path';
import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import { failureGroupId, failureKeyOf, normalizeErrorMessage, topApplicationFrame } from './failure-key';
import { groupFailures } from './failure-groups';

describe('normalizeErrorMessage', () => {
  it.each([
    ['order 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b not found', 'order <uuid> not found'],
    ['row 42 of 1000 failed after 3.5 s', 'row <n> of <n> failed after <n> s'],
    ['duplicate key value "orders_pkey" (id)=(17)', 'duplicate key value <str> (id)=(<n>)'],
    ["user 'alice@example.com' is locked", 'user <str> is locked'],
    ['object 507f1f77bcf86cd799439011 missing at 0xdeadbeef', 'object <hex> missing at <hex>'],
    ['timeout at 2026-12-04T07:56:44.123Z (took 5000ms)', 'timeout at <time> (took <n>ms)'],
    ['  many\n  lines\twith   spaces ', 'many lines with spaces'],
    ['v2 of utf8 stays', 'v2 of utf8 stays'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeErrorMessage(input)).toBe(expected);
  });

  it('gives one text for messages differing only in ids, numbers and quoted values', () => {
    const a = normalizeErrorMessage('card 1234 declined for order "A-17" (ref 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b)');
    const b = normalizeErrorMessage("card 9876 declined for order 'B-99' (ref 0190ffff-0000-7000-8000-000000000000)");
    expect(a).toBe(b);
    expect(normalizeErrorMessage('card declined')).not.toBe(normalizeErrorMessage('card expired'));
  });

  it('bounds the length', () => {
    expect(normalizeErrorMessage('x'.repeat(5000))).toHaveLength(300);
  });
});

describe('topApplicationFrame', () => {
  const cwd = '/srv/app';
  const lib = '/srv/app/node_modules/nestjs-messaging/dist/lib/';
  it('skips node_modules, node internals and the library, and drops the column', () => {
    const stack = [
      'QueryFailedError: duplicate key',
      '    at PostgresQueryRunner.query (/srv/app/node_modules/typeorm/driver/postgres/PostgresQueryRunner.js:219:19)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at async ConsumerPipeline.invoke (/srv/other/lib/consumer/consumer.pipeline.js:10:3)',
      '    at async OrderProjector.onCreated (/srv/app/src/orders/projector.ts:42:13)',
    ].join('\n');
    expect(topApplicationFrame(stack, cwd, '/srv/other/lib/')).toBe(
      'OrderProjector.onCreated (src/orders/projector.ts:42)',
    );
    expect(topApplicationFrame(stack, cwd, lib)).toBe(
      'ConsumerPipeline.invoke (/srv/other/lib/consumer/consumer.pipeline.js:10)',
    );
  });

  it('reads anonymous frames and has none without an application frame', () => {
    expect(topApplicationFrame('Error: x\n    at /srv/app/src/main.ts:3:1', cwd, lib)).toBe('src/main.ts:3');
    expect(topApplicationFrame('Error: x\n    at node:internal/timers:1:1', cwd, lib)).toBeUndefined();
    expect(topApplicationFrame(undefined, cwd, lib)).toBeUndefined();
  });

  it("skips this library's own frames by default", () => {
    const own = path.resolve(__dirname, '../../consumer/consumer.pipeline.ts');
    const stack = `Error: x\n    at ConsumerPipeline.handle (${own}:1:1)\n    at Projector.on (/srv/app/src/p.ts:9:1)`;
    expect(topApplicationFrame(stack, cwd)).toBe('Projector.on (src/p.ts:9)');
  });
});

const here = process.cwd();

function deadLetter(id: string, message: string, at: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    messageId: `m-${id}`,
    type: 'OrderPlaced',
    body: '{}',
    subscriber: 'shipping',
    sourceQueue: 'svc.shipping',
    error: {
      name: 'QueryFailedError',
      message,
      stack: `QueryFailedError: ${message}\n    at Ship.on (${here}/src/ship.ts:7:1)`,
    },
    attempts: 3,
    firstFailureAt: at,
    lastFailureAt: at,
    deadLetteredAt: at,
    ...extra,
  };
}

describe('groupFailures', () => {
  it('splits one error class by cause and gives each group a stable id, counts and an example', () => {
    const groups = groupFailures([
      deadLetter('1', 'relation "orders" does not exist', '2026-01-01T00:00:01Z'),
      deadLetter('2', 'deadlock detected on row 17', '2026-01-01T00:00:02Z'),
      deadLetter('3', 'deadlock detected on row 99', '2026-01-01T00:00:03Z', { type: 'OrderCancelled' }),
    ]);
    expect(groups.map((g) => [g.normalizedMessage, g.count, g.ids])).toEqual([
      ['deadlock detected on row <n>', 2, ['2', '3']],
      ['relation <str> does not exist', 1, ['1']],
    ]);
    const [deadlock] = groups;
    expect(deadlock).toMatchObject({
      subscriber: 'shipping',
      errorName: 'QueryFailedError',
      topFrame: 'Ship.on (src/ship.ts:7)',
      firstSeenAt: '2026-01-01T00:00:02Z',
      lastSeenAt: '2026-01-01T00:00:03Z',
      types: { OrderPlaced: 1, OrderCancelled: 1 },
      subscribers: ['shipping'],
    });
    expect(deadlock.example.id).toBe('3');
    expect(deadlock.id).toMatch(/^[0-9a-f]{16}$/);
    expect(deadlock.id).toBe(failureGroupId(failureKeyOf(deadLetter('x', 'deadlock detected on row 5', 'z'))));
    expect(groups[1].id).not.toBe(deadlock.id);
  });

  it('counts types from the wire without touching any prototype', () => {
    const [g] = groupFailures([
      deadLetter('1', 'x', 't', { type: '__proto__' }),
      deadLetter('2', 'x', 't', { type: 'constructor' }),
    ]);
    expect(Object.getOwnPropertyNames(g.types).sort()).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(g.types))).toEqual(JSON.parse('{"__proto__":1,"constructor":1}'));
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
  });

  it('separates subscribers and stack frames of the same message', () => {
    const a = deadLetter('1', 'boom', 't');
    const b = deadLetter('2', 'boom', 't', { subscriber: 'billing' });
    const c = deadLetter('3', 'boom', 't', {
      error: { name: 'QueryFailedError', message: 'boom', stack: 'E\n    at X.y (/srv/app/src/x.ts:1:1)' },
    });
    expect(new Set(groupFailures([a, b, c]).map((g) => g.id)).size).toBe(3);
  });
});
