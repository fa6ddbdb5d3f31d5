import * as path from 'node:path';
import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import {
  failureGroupId,
  failureKeyOf,
  normalizeErrorMessage,
  stableFilePath,
  topApplicationFrame,
  topApplicationFrameAt,
} from './failure-key';
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

  it.each([
    // what tells causes apart is kept
    ['Request failed with status code 503', 'Request failed with status code 503'],
    ['HTTP 404 from carrier, statusCode=502, code: 429', 'HTTP 404 from carrier, statusCode=502, code: 429'],
    [
      'duplicate key value violates unique constraint "orders_email_key"',
      'duplicate key value violates unique constraint "orders_email_key"',
    ],
    ['relation "public.payments" does not exist', 'relation "public.payments" does not exist'],
    ['column "total" of relation "orders" is null', 'column "total" of relation "orders" is null'],
    [
      "Cannot read properties of undefined (reading 'customer')",
      "Cannot read properties of undefined (reading 'customer')",
    ],
    ['missing property \'sku\' on field "lines"', 'missing property \'sku\' on field "lines"'],
    ["Cannot find module 'stripe'", "Cannot find module 'stripe'"],
    ['index "orders_by_day" is corrupt', 'index "orders_by_day" is corrupt'],
    // …but not a quoted value that is not an identifier, nor a number that is not a status
    ['column "total" has value "12 €"', 'column "total" has value <str>'],
    ["relation 'a b' missing", 'relation <str> missing'],
    ['status 42 of 1000', 'status <n> of <n>'],
    // what varies per message is replaced
    ['order 01ARZ3NDEKTSV4RRFFQ69G5FAV not found', 'order <id> not found'],
    ['customer cus_9fK2x has no card for ord_8f3k2x', 'customer <id> has no card for <id>'],
    ['no mailbox for alice.smith+orders@example.co.uk', 'no mailbox for <email>'],
    ['connect ECONNREFUSED 10.0.12.7:5432', 'connect ECONNREFUSED <ip>'],
    ['connect ECONNREFUSED 192.168.1.20', 'connect ECONNREFUSED <ip>'],
    ['connect ECONNREFUSED ::1:5432', 'connect ECONNREFUSED <ip>'],
    ['host 2001:db8:85a3::8a2e:370:7334 unreachable', 'host <ip> unreachable'],
    ['host fe80:0:0:0:202:b3ff:fe1e:8329 unreachable', 'host <ip> unreachable'],
    ['peer ::ffff:10.0.0.1 reset', 'peer <ip> reset'],
    ['v1.2.3 at 12:30:45 uses orders_pkey', 'v1.2.3 at <n>:<n>:<n> uses orders_pkey'],
  ])('keeps what tells causes apart, replaces what varies: %j → %j', (input, expected) => {
    expect(normalizeErrorMessage(input)).toBe(expected);
  });

  it('separates causes that differ only in a status, constraint, relation or property', () => {
    const pairs = [
      ['Request failed with status code 503', 'Request failed with status code 404'],
      [
        'duplicate key value violates unique constraint "orders_pkey"',
        'duplicate key value violates unique constraint "orders_email_key"',
      ],
      ['relation "orders" does not exist', 'relation "payments" does not exist'],
      [
        "Cannot read properties of undefined (reading 'total')",
        "Cannot read properties of undefined (reading 'customer')",
      ],
    ];
    for (const [a, b] of pairs) expect(normalizeErrorMessage(a)).not.toBe(normalizeErrorMessage(b));
  });

  it('keeps one cause together whatever ids, addresses and e-mails it names', () => {
    const same = [
      ['order 01ARZ3NDEKTSV4RRFFQ69G5FAV failed', 'order 01HF8ZQ7X3Y2W1V0T9S8R7Q6P5 failed'],
      ['charge for cus_9fK2x failed', 'charge for cus_Q1b7ZZ failed'],
      ['bounce from bob@example.com', 'bounce from carol.x@mail.example.org'],
      ['connect ETIMEDOUT 10.0.0.1:443', 'connect ETIMEDOUT 10.0.0.2:8443'],
      ['connect ETIMEDOUT 2001:db8::1', 'connect ETIMEDOUT 2001:db8::2'],
    ];
    for (const [a, b] of same) expect(normalizeErrorMessage(a)).toBe(normalizeErrorMessage(b));
  });

  it('keeps many kept values (16 here) in their places', () => {
    const statuses = Array.from({ length: 8 }, (_, i) => `status ${500 + i} on relation "t${i}"`).join(', ');
    expect(normalizeErrorMessage(statuses)).toBe(statuses);
  });

  it('is not fooled by the placeholder character in the input', () => {
    expect(normalizeErrorMessage('relation "orders" x\u0001a\u0001 status 500')).toBe(
      'relation "orders" xa status 500',
    );
  });

  it('bounds the length', () => {
    expect(normalizeErrorMessage('x'.repeat(5000))).toHaveLength(300);
  });
});

describe('topApplicationFrame', () => {
  const cwd = '/srv/app';
  const lib = '/srv/app/node_modules/nestjs-messaging/dist/lib/';
  const stack = [
    'QueryFailedError: duplicate key',
    '    at PostgresQueryRunner.query (/srv/app/node_modules/typeorm/driver/postgres/PostgresQueryRunner.js:219:19)',
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    '    at async ConsumerPipeline.invoke (/srv/other/lib/consumer/consumer.pipeline.js:10:3)',
    '    at async OrderProjector.onCreated (/srv/app/src/orders/projector.ts:42:13)',
  ].join('\n');

  it('skips node_modules, node internals and the library; keys on function and file from src/ on, no line', () => {
    expect(topApplicationFrame(stack, '/srv/other/lib/')).toBe('OrderProjector.onCreated (orders/projector)');
    expect(topApplicationFrame(stack, lib)).toBe('ConsumerPipeline.invoke (consumer/consumer.pipeline)');
  });

  it('gives the line (no column) for display only, relative to the working directory', () => {
    expect(topApplicationFrameAt(stack, cwd, '/srv/other/lib/')).toBe(
      'OrderProjector.onCreated (src/orders/projector.ts:42)',
    );
    expect(topApplicationFrameAt(stack, cwd, lib)).toBe(
      'ConsumerPipeline.invoke (/srv/other/lib/consumer/consumer.pipeline.js:10)',
    );
    expect(topApplicationFrameAt('Error: x\n    at /srv/app/src/main.ts:3:1', cwd, lib)).toBe('src/main.ts:3');
  });

  it('is the same whatever the working directory, release folder or line', () => {
    const at = (file: string) => `Error: x\n    at Ship.on (${file})`;
    const keys = [
      at('dist/ship.js:7:1'), // recorded relative (cwd /srv/app)
      at('/srv/app/dist/ship.js:7:1'), // absolute (cwd /home/op)
      at('srv/app/dist/ship.js:7:1'), // relative to /
      at('/app/releases/2026-12-01/dist/ship.js:7:1'),
      at('/app/releases/2026-12-08/dist/ship.js:31:9'), // next deploy: folder and line moved
      at('file:///srv/app/dist/ship.js:7:1'),
    ].map((s) => topApplicationFrame(s, lib));
    expect(new Set(keys)).toEqual(new Set(['Ship.on (ship)']));
    expect(topApplicationFrame(at('/srv/app/dist/billing/ship.js:7:1'), lib)).toBe('Ship.on (billing/ship)');
    expect(topApplicationFrame(at('/srv/app/build/ship.js:1:1'), lib)).toBe('Ship.on (ship)');
    expect(topApplicationFrame(at('/srv/app/out/ship.js:1:1'), lib)).toBe('Ship.on (ship)');
    expect(topApplicationFrame(at('C:\\app\\src\\orders\\ship.ts:1:1'), lib)).toBe('Ship.on (orders/ship)');
  });

  it('drops the script extension: a .ts frame (source maps) and a .js frame (none) are one group', () => {
    const at = (file: string) => `Error: x\n    at Ship.on (${file}:7:1)`;
    const keys = [
      '/srv/app/src/orders/ship.ts',
      '/srv/app/dist/orders/ship.js',
      '/srv/app/dist/orders/ship.mjs',
      '/srv/app/dist/orders/ship.cjs',
      '/srv/app/src/orders/ship.mts',
      '/srv/app/src/orders/ship.cts',
      'file:///srv/app/dist/orders/ship.JS',
    ].map((f) => topApplicationFrame(at(f), lib));
    expect(new Set(keys)).toEqual(new Set(['Ship.on (orders/ship)']));
    // only the last extension, only a script's: the rest of the name stays
    expect(topApplicationFrame(at('/srv/app/src/orders/ship.spec.ts'), lib)).toBe('Ship.on (orders/ship.spec)');
    expect(topApplicationFrame(at('/srv/app/src/orders/ship.jsx'), lib)).toBe('Ship.on (orders/ship.jsx)');
    expect(topApplicationFrame(at('/srv/app/src/orders/ts'), lib)).toBe('Ship.on (orders/ts)');
    const dl = (file: string): DeadLetter =>
      deadLetter('1', 'broken', '2026-01-01T00:00:01Z', {
        error: { name: 'Error', message: 'broken', stack: at(`${here}/${file}`) },
      });
    expect(failureGroupId(failureKeyOf(dl('src/ship.ts')))).toBe(failureGroupId(failureKeyOf(dl('dist/ship.js'))));
    expect(groupFailures([dl('src/ship.ts'), dl('dist/ship.js')])).toHaveLength(1);
    // the line shown keeps the file as recorded
    expect(topApplicationFrameAt(at('/srv/app/dist/orders/ship.js'), cwd, lib)).toBe('Ship.on (dist/orders/ship.js:7)');
  });

  it('keeps the path after the last src/dist/lib/build/out folder, else the base name', () => {
    expect(stableFilePath('/srv/app/dist/lib/orders/x.js')).toBe('orders/x.js');
    expect(stableFilePath('/srv/app/src/orders/x.ts')).toBe('orders/x.ts');
    expect(stableFilePath('/home/op/app/test/orders/x.spec.ts')).toBe('x.spec.ts');
    expect(stableFilePath('/srv/app/dist')).toBe('dist'); // a file named like a folder stays
    expect(stableFilePath('x.js')).toBe('x.js');
  });

  it('reads anonymous frames and has none without an application frame', () => {
    expect(topApplicationFrame('Error: x\n    at /srv/app/src/main.ts:3:1', lib)).toBe('main');
    expect(topApplicationFrame('Error: x\n    at node:internal/timers:1:1', lib)).toBeUndefined();
    expect(topApplicationFrame(undefined, lib)).toBeUndefined();
    expect(topApplicationFrameAt(undefined, cwd, lib)).toBeUndefined();
  });

  it("skips this library's own frames by default", () => {
    const own = path.resolve(__dirname, '../../consumer/consumer.pipeline.ts');
    const stack = `Error: x\n    at ConsumerPipeline.handle (${own}:1:1)\n    at Projector.on (/srv/app/src/p.ts:9:1)`;
    expect(topApplicationFrame(stack)).toBe('Projector.on (p)');
    expect(topApplicationFrameAt(stack, cwd)).toBe('Projector.on (src/p.ts:9)');
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
      ['relation "orders" does not exist', 1, ['1']],
    ]);
    const [deadlock] = groups;
    expect(deadlock).toMatchObject({
      subscriber: 'shipping',
      errorName: 'QueryFailedError',
      topFrame: 'Ship.on (ship)',
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
