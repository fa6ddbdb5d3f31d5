/**
 * The chaos suite from the command line: `npm run chaos -- --orders 20000 [--kills 10] [--rate 80] [--only name]`.
 * Prints a line per scenario and the table; exits 1 when any scenario lost, duplicated or invented
 * an effect, or a process exited unexpectedly.
 */
import { runChaos, table } from './chaos-suite';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const only = process.argv.includes('--only') ? [arg('only', '')] : undefined;
  const results = await runChaos({
    orders: Number(arg('orders', '2000')),
    kills: Number(arg('kills', '10')),
    ratePerSecond: Number(arg('rate', '80')),
    only,
    log: (line) => console.log(line),
  });
  console.log(`\n${table(results)}`);
  for (const r of results) for (const note of r.notes) console.log(`${r.scenario}: ${note}`);
  const bad = results.filter(
    (r) => r.lost + r.duplicated + r.unexpected + r.unexpectedExits + r.queriesUnsettled > 0 || r.notes.length > 0,
  );
  console.log(`${results.length - bad.length} passed, ${bad.length} failed`);
  process.exit(bad.length === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
