#!/usr/bin/env node
// Peer ranges = tested ranges. For each boundary of the declared peer ranges of pg, typeorm,
// @nestjs/typeorm and @golevelup/nestjs-rabbitmq (oldest and newest published version), copies the
// repository into a scratch directory, installs that version over the locked dependencies and
// runs the outbox, inbox and RabbitMQ tests against it. Prints one line per combination and a
// closing "N passed, N failed" (combinations).
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
  { name: 'golevelup-oldest', install: { '@golevelup/nestjs-rabbitmq': '9.0.0' } },
  {
    name: 'golevelup-newest',
    install: {
      '@golevelup/nestjs-rabbitmq': newest('@golevelup/nestjs-rabbitmq', peers['@golevelup/nestjs-rabbitmq']),
    },
  },
];

const only = process.argv.slice(2);
const selected = combos.filter((c) => only.length === 0 || only.some((p) => c.name.startsWith(p)));
const results = [];
for (const combo of selected) {
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
  let summary = 'install failed';
  if (ok) {
    const report = path.join(dir, 'matrix-report.json');
    const jest = spawnSync(
      path.join(dir, 'node_modules', '.bin', 'jest'),
      [
        '--runInBand',
        '--forceExit',
        '--json',
        `--outputFile=${report}`,
        ...TESTS,
        // last: an array option takes the arguments after it as its own values
        `--testPathIgnorePatterns=${IGNORE.join('|')}`,
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    try {
      const r = JSON.parse(fs.readFileSync(report, 'utf8'));
      summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed`;
      ok = jest.status === 0 && r.numFailedTests === 0 && r.numTotalTests > 0;
    } catch {
      summary = 'no jest report';
      ok = false;
    }
  }
  results.push({ name: combo.name, versions: installed.join(' '), ok, summary });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${combo.name} (${installed.join(' ')}): ${summary}`);
  if (ok) fs.rmSync(dir, { recursive: true, force: true });
}

console.log('\n| combination | versions | tests | result |\n|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.versions} | ${r.summary} | ${r.ok ? 'pass' : 'FAIL'} |`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
