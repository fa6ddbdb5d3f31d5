#!/usr/bin/env node
// Post-build step: lets the published declarations compile without the optional peer dependencies.
// The .d.ts files of features that need an optional peer (typeorm for the outbox, prom-client,
// @opentelemetry/api, the RabbitMQ packages, …) import its types; a consumer without that peer and
// with `skipLibCheck: false` would get "Cannot find module" errors from our files. Each such import
// gets a `// @ts-ignore`: with the peer installed its types are used as they are; without it they
// degrade to `any` inside declarations the consumer does not use. Checked by test/package.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const OPTIONAL = require('../package.json').peerDependenciesMeta;
const optional = Object.keys(OPTIONAL).filter((name) => OPTIONAL[name].optional);
// amqplib comes with @golevelup/nestjs-rabbitmq (and pg-protocol with pg): optional with them
optional.push('amqplib', 'amqp-connection-manager');
const peer = new RegExp(
  `^import .* from '(${optional.map((n) => n.replace(/[/.@-]/g, '\\$&')).join('|')})(/[^']*)?';$`,
);

let patched = 0;
function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(file);
    else if (entry.name.endsWith('.d.ts')) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const out = [];
      for (const line of lines) {
        if (peer.test(line) && out[out.length - 1] !== '// @ts-ignore optional peer dependency') {
          out.push('// @ts-ignore optional peer dependency');
          patched++;
        }
        out.push(line);
      }
      fs.writeFileSync(file, out.join('\n'));
    }
  }
}
walk(path.resolve(__dirname, '../dist'));
console.log(`optional-peer-types: ${patched} import(s) of optional peers marked in dist/**/*.d.ts`);
