/**
 * Tests that stop or restart the broker or the database, or close every broker connection, hit
 * every user of those services. They run when RABBITMQ_DISRUPTIVE_TESTS=1 (.ci/run sets it: a CI
 * run has the services to itself) or CI=true; on a developer's shared services they are skipped,
 * and scripts/run-tests.js allows exactly these skips (see its ALLOWED_SKIPS).
 */
export function disruptiveTestsEnabled(): boolean {
  return process.env.RABBITMQ_DISRUPTIVE_TESTS === '1' || process.env.CI === 'true';
}
