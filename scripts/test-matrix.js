#!/usr/bin/env node
// Peer ranges = tested ranges. For each boundary of the declared peer ranges (pg, typeorm,
// @golevelup/nestjs-rabbitmq, @nestjs/terminus, @nestjs/common/core, @nestjs/cqrs, class-validator,
// prom-client, @opentelemetry/api), and of the @nestjs/typeorm majors an app may
// combine with them (oldest and newest published version), copies the repository into a scratch
// directory, installs that version over the locked dependencies and runs the tests of what the
// package touches (with a TypeORM package: the project's type check too). Prints one line per combination and a closing "N passed, N failed" (combinations).
//
// @nestjs/terminus 12 and @nestjs/typeorm 12 are ESM only. Node >= 20.19 require()s them from a
// CommonJS app (ours and the sample are CommonJS), but Jest on Node 20 cannot (its module loader
// supports require(esm) from Node 24.9 on; transforming them fails on their `import.meta`). Their
// combinations therefore run a smoke test in plain Node instead of Jest (`smoke` below): the sample
// app (TypeOrmModule, TerminusModule, the outbox, both subscribers) on SQLite and on PostgreSQL,
// GET /health up, one order handled end to end.
//
//   npm run test:matrix                 # every combination (about 2-4 min each on 2 cores)
//   npm run test:matrix -- pg typeorm   # only combinations whose name starts with one of these
//
// Needs PostgreSQL and RabbitMQ like `npm test` (TEST_DATABASE_URL / TEST_AMQP_URL are passed on).
'use strict';
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const scratch = path.join(os.tmpdir(), 'nestjs-messaging-matrix');
const TESTS = ['test/outbox', 'test/core/transactions', 'test/core/shared-inbox', 'test/rabbitmq'];
// global broker faults (restart, memory alarm) are the suite's business, not a version's
const IGNORE = ['rabbitmq.disruptive'];
// what a health-check package touches: the terminus endpoints and the indicator without terminus
const HEALTH_TESTS = ['test/monitoring/http-endpoints', 'test/monitoring/optional-peers'];
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Plain-Node smoke test of the sample (CommonJS through ts-node, as `npm run sample` runs it): boots
 * AppModule, expects GET /health up and one order handled by both subscribers through the outbox.
 */
const SMOKE = `
require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { AppModule } = require(process.cwd() + '/sample/app.module');
(async () => {
  const app = await NestFactory.create(AppModule.register({ ...process.env }), { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const base = 'http://127.0.0.1:' + app.getHttpServer().address().port;
  const health = await fetch(base + '/health');
  const body = await health.json();
  if (health.status !== 200 || body.status !== 'ok') throw new Error('GET /health ' + health.status + ' ' + JSON.stringify(body));
  const created = await fetch(base + '/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: 'matrix', totalAmount: 1 }),
  });
  const { id } = await created.json();
  let view;
  for (const end = Date.now() + 15000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    view = await (await fetch(base + '/orders/' + id)).json();
    if (view.reservations?.length === 1 && view.notifications?.length === 1) break;
  }
  if (!(view?.reservations?.length === 1 && view?.notifications?.length === 1)) throw new Error('order not handled: ' + JSON.stringify(view));
  await app.close();
  console.log('smoke ' + (process.env.DATABASE_URL ? 'postgres' : 'sqlite') + ': GET /health up, order handled by both subscribers');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

/** Newest published version matching `range`. */
function newest(pkg, range) {
  const out = execFileSync('npm', ['view', `${pkg}@${range}`, 'version', '--json'], { encoding: 'utf8' });
  const v = JSON.parse(out);
  return Array.isArray(v) ? v[v.length - 1] : v;
}

const peers = require(path.join(root, 'package.json')).peerDependencies;
// each combination changes the locked versions of these packages only
const combos = [
  { name: 'pg-oldest', install: { pg: '8.11.0' } },
  { name: 'pg-newest', install: { pg: newest('pg', peers.pg) } },
  // @nestjs/typeorm 11 accepts typeorm ^0.3 only; 12 accepts ^0.3 || ^1
  { name: 'typeorm-0.3-oldest', install: { typeorm: '0.3.20', '@nestjs/typeorm': '11.0.0' } },
  { name: 'typeorm-0.3-newest', install: { typeorm: newest('typeorm', '^0.3.20'), '@nestjs/typeorm': '11.0.3' } },
  // @nestjs/typeorm 12 is ESM only (Nest 12): a CommonJS Nest 11 app on Node 20 cannot load it, so
  // typeorm 1.x is tested with @nestjs/typeorm 11 (which works with it, though its peer range says ^0.3)
  { name: 'typeorm-1-oldest', install: { typeorm: '1.0.0', '@nestjs/typeorm': '11.0.3' } },
  { name: 'typeorm-1-newest', install: { typeorm: newest('typeorm', '^1.0.0'), '@nestjs/typeorm': '11.0.3' } },
  // @nestjs/typeorm is not a peer (the library never loads it: it finds the DataSource by its class),
  // but apps combine it with us: both majors that accept Nest 11 are tested (12: ESM only, see top).
  // 12.0.0 exports only an `import` condition: no CommonJS app can require() it at all (Node:
  // ERR_PACKAGE_PATH_NOT_EXPORTED); 12.0.1 added `default`, so it is the oldest 12 to test.
  {
    name: 'nestjs-typeorm-12-oldest',
    install: { '@nestjs/typeorm': '12.0.1', typeorm: '0.3.20', '@nestjs/terminus': '12.0.0' },
    jest: false,
    smoke: true,
  },
  {
    name: 'nestjs-typeorm-12-newest',
    install: {
      '@nestjs/typeorm': newest('@nestjs/typeorm', '^12.0.0'),
      typeorm: newest('typeorm', '^1.0.0'),
      '@nestjs/terminus': newest('@nestjs/terminus', '^12.0.0'),
    },
    jest: false,
    smoke: true,
  },
  { name: 'terminus-11-oldest', install: { '@nestjs/terminus': '11.0.0' }, tests: HEALTH_TESTS, smoke: true },
  { name: 'terminus-11-newest', install: { '@nestjs/terminus': newest('@nestjs/terminus', '^11.0.0') }, tests: HEALTH_TESTS, smoke: true },
  { name: 'terminus-12-oldest', install: { '@nestjs/terminus': '12.0.0' }, jest: false, smoke: true },
  {
    name: 'terminus-12-newest',
    install: { '@nestjs/terminus': newest('@nestjs/terminus', '^12.0.0') },
    jest: false,
    smoke: true,
  },
  { name: 'golevelup-oldest', install: { '@golevelup/nestjs-rabbitmq': '9.0.0' } },
  {
    name: 'golevelup-newest',
    install: {
      '@golevelup/nestjs-rabbitmq': newest('@golevelup/nestjs-rabbitmq', peers['@golevelup/nestjs-rabbitmq']),
    },
  },
];

// the other peers: their oldest declared version (the lock file holds the newest, which `npm test`
// runs), and their newest when it differs from the lock file's, each with the tests of what it touches
const NEST_TESTS = ['test/core', 'test/cqrs', 'test/testing', 'test/monitoring/http-endpoints'];
const VALIDATION_TESTS = ['lib/message', 'test/core/buses', 'test/core/subscribers', 'test/core/http-filter'];
const MONITORING_TESTS = ['test/monitoring'];
const nest = (v) => ({
  '@nestjs/common': v,
  '@nestjs/core': v,
  '@nestjs/platform-express': v,
  '@nestjs/testing': v,
});
combos.push(
  {
    name: 'nest-oldest',
    install: { ...nest('11.1.21'), rxjs: '7.8.1', 'reflect-metadata': '0.2.2' },
    tests: NEST_TESTS,
  },
  { name: 'nest-newest', install: nest(newest('@nestjs/core', peers['@nestjs/core'])), tests: NEST_TESTS },
  { name: 'cqrs-oldest', install: { '@nestjs/cqrs': '11.0.0' }, tests: ['test/cqrs'] },
  { name: 'cqrs-newest', install: { '@nestjs/cqrs': newest('@nestjs/cqrs', peers['@nestjs/cqrs']) }, tests: ['test/cqrs'] },
  {
    name: 'class-validator-oldest',
    install: { 'class-validator': '0.14.0', 'class-transformer': '0.5.1' },
    tests: VALIDATION_TESTS,
  },
  {
    name: 'class-validator-newest',
    install: { 'class-validator': newest('class-validator', peers['class-validator']) },
    tests: VALIDATION_TESTS,
  },
  { name: 'prom-client-oldest', install: { 'prom-client': '15.0.0' }, tests: MONITORING_TESTS },
  {
    name: 'prom-client-newest',
    install: { 'prom-client': newest('prom-client', peers['prom-client']) },
    tests: MONITORING_TESTS,
  },
  { name: 'otel-oldest', install: { '@opentelemetry/api': '1.4.0' }, tests: MONITORING_TESTS },
  {
    name: 'otel-newest',
    install: { '@opentelemetry/api': newest('@opentelemetry/api', peers['@opentelemetry/api']) },
    tests: MONITORING_TESTS,
  },
);

const only = process.argv.slice(2);
const selected = combos.filter((c) => only.length === 0 || only.some((p) => c.name.startsWith(p)));
const results = [];
/** The version of `pkg` the lock file installed, or undefined. */
function locked(pkg) {
  try {
    return require(path.join(root, 'node_modules', pkg, 'package.json')).version;
  } catch {
    return undefined;
  }
}

for (const combo of selected) {
  if (Object.entries(combo.install).every(([p, v]) => locked(p) === v)) {
    // the versions `npm test` runs on: nothing to install or run again
    console.log(`== ${combo.name}: the lock file's own versions (covered by npm test)`);
    const versions = Object.entries(combo.install).map(([p, v]) => `${p}@${v}`).join(' ');
    results.push({ name: combo.name, versions, ok: true, summary: "the lock file's versions: covered by npm test" });
    continue;
  }
  const dir = path.join(scratch, combo.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // the working tree as git sees it (tracked and new files), and the locked node_modules
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && fs.existsSync(path.join(root, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(dir, f));
  }
  execFileSync('cp', ['-a', path.join(root, 'node_modules'), dir]);
  const specs = Object.entries(combo.install).map(([p, v]) => `${p}@${v}`);
  console.log(`== ${combo.name}: ${specs.join(' ')}`);
  const install = spawnSync(
    'npm',
    ['install', '--no-save', '--no-audit', '--no-fund', '--legacy-peer-deps', ...specs],
    { cwd: dir, stdio: 'inherit' },
  );
  let ok = install.status === 0;
  const installed = Object.keys(combo.install).map((p) => {
    try {
      return `${p}@${require(path.join(dir, 'node_modules', p, 'package.json')).version}`;
    } catch {
      return `${p}@?`;
    }
  });
  if (ok && installed.join(' ') !== specs.join(' ')) {
    console.log(`installed ${installed.join(' ')}, expected ${specs.join(' ')}`);
    ok = false;
  }
  const parts = [];
  if (!ok) parts.push('install failed');
  if (ok && Object.keys(combo.install).some((p) => p.includes('typeorm'))) {
    // the whole project type-checks against this TypeORM, test/types/entity-manager.types.ts included
    // (its EntityManager and Repository fit the library's structural MessagingEntityManager)
    const tsc = spawnSync(path.join(dir, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', 'tsconfig.json'], {
      cwd: dir,
      stdio: 'inherit',
    });
    parts.push(`type check ${tsc.status === 0 ? 'ok' : 'failed'}`);
    ok = tsc.status === 0;
  }
  if (ok && combo.jest !== false) {
    const report = path.join(dir, 'matrix-report.json');
    const jest = spawnSync(
      path.join(dir, 'node_modules', '.bin', 'jest'),
      [
        '--runInBand',
        '--forceExit',
        '--json',
        `--outputFile=${report}`,
        ...(combo.tests ?? TESTS),
        // last: an array option takes the arguments after it as its own values
        `--testPathIgnorePatterns=${IGNORE.join('|')}`,
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    try {
      const r = JSON.parse(fs.readFileSync(report, 'utf8'));
      parts.push(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
      ok = jest.status === 0 && r.numFailedTests === 0 && r.numTotalTests > 0;
    } catch {
      parts.push('no jest report');
      ok = false;
    }
  }
  if (ok && combo.smoke) {
    // the sample on its embedded SQLite, then on PostgreSQL
    for (const env of [{}, { DATABASE_URL }]) {
      const smoke = spawnSync(process.execPath, ['-r', 'ts-node/register', '-e', SMOKE], {
        cwd: dir,
        stdio: 'inherit',
        timeout: 120_000,
        env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json', TS_NODE_TRANSPILE_ONLY: '1', ...env },
      });
      const db = env.DATABASE_URL ? 'postgres' : 'sqlite';
      parts.push(`smoke ${db} ${smoke.status === 0 ? 'ok' : 'failed'}`);
      ok = ok && smoke.status === 0;
    }
  }
  const summary = parts.join('; ');
  results.push({ name: combo.name, versions: installed.join(' '), ok, summary });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${combo.name} (${installed.join(' ')}): ${summary}`);
  if (ok) fs.rmSync(dir, { recursive: true, force: true });
}

console.log('\n| combination | versions | tests | result |\n|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.versions} | ${r.summary} | ${r.ok ? 'pass' : 'FAIL'} |`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
