import { disruptiveTestsEnabled } from '../setup/disruptive';
import { runChaos, table, type ScenarioResult } from './chaos-suite';

// The short profile of the chaos suite (the long one: `npm run chaos -- --orders 20000`): every
// scenario with separate producer and consumer processes, real PostgreSQL and RabbitMQ. It stops
// and restarts the broker and the database: run it alone (CI runs test files one at a time).

(disruptiveTestsEnabled() ? describe : describe.skip)('chaos suite, short profile', () => {
  let results: ScenarioResult[] = [];

  afterAll(() => {
    if (results.length > 0) process.stdout.write(`\nchaos suite, short profile\n${table(results)}\n`);
  });

  it('no scenario loses, duplicates or invents an effect (routed commands included), leaves a routed query unsettled, or exits unless killed', async () => {
    results = await runChaos({
      orders: Number(process.env.CHAOS_ORDERS ?? 120),
      kills: Number(process.env.CHAOS_KILLS ?? 10),
      ratePerSecond: 60,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    expect(results.length).toBeGreaterThanOrEqual(10);
    for (const r of results) {
      expect({
        scenario: r.scenario,
        lost: r.lost,
        duplicated: r.duplicated,
        unexpected: r.unexpected,
        exits: r.unexpectedExits,
        queriesUnsettled: r.queriesUnsettled,
        notes: r.notes,
      }).toEqual({
        scenario: r.scenario,
        lost: 0,
        duplicated: 0,
        unexpected: 0,
        exits: 0,
        queriesUnsettled: 0,
        notes: [],
      });
      expect(r.committed).toBeGreaterThan(0);
    }
  }, 900_000);
});
