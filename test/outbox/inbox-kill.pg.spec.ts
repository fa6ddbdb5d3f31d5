import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { TEST_DATABASE_URL } from '../setup/services';
import { createMessagingMigration } from '../../lib/outbox/outbox.migration';
import { waitFor } from '../setup/wait';

// The database terminates the connection under a subscriber's inbox transaction (an operator's
// pg_terminate_backend, a failover): the consumer process must survive, and the message in flight
// is retried and applied once. Run in a separate process, as the crash would end Jest's own.

const suffix = randomBytes(3).toString('hex');
const tables = { outboxTable: `ik_outbox_${suffix}`, inboxTable: `ik_inbox_${suffix}` };
const effects = `ik_effects_${suffix}`;
const appName = `inbox_kill_${suffix}`;

describe('a consumer whose inbox connection is terminated mid-transaction (separate process)', () => {
  let ds: DataSource;
  let child: ChildProcess | undefined;
  const messages: Array<Record<string, unknown>> = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stderr = '';

  beforeAll(async () => {
    ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
    await ds.initialize();
    const Migration = createMessagingMigration(tables);
    const qr = ds.createQueryRunner();
    await new Migration().up(qr);
    await qr.release();
    await ds.query(`CREATE TABLE ${effects} (key text NOT NULL)`);
    child = fork(join(__dirname, 'helpers', 'inbox-kill.child.ts'), [], {
      cwd: join(__dirname, '..', '..'),
      execArgv: ['-r', 'ts-node/register/transpile-only', '--trace-uncaught'],
      env: {
        ...process.env,
        DB_URL: TEST_DATABASE_URL,
        ...tables,
        OUTBOX: tables.outboxTable,
        INBOX: tables.inboxTable,
        EFFECTS: effects,
        APP_NAME: appName,
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('message', (m) => messages.push(m as Record<string, unknown>));
    child.on('exit', (code, signal) => (exit = { code, signal }));
    await waitFor(() => messages.some((m) => m.ready) || exit !== undefined, 'the child to start', 30_000);
    expect(exit).toBeUndefined();
  }, 40_000);

  afterAll(async () => {
    if (child && exit === undefined) child.kill('SIGKILL');
    const Migration = createMessagingMigration(tables);
    const qr = ds.createQueryRunner();
    await new Migration().down(qr).catch(() => undefined);
    await qr.release();
    await ds.query(`DROP TABLE IF EXISTS ${effects}`);
    await ds.destroy();
  });

  const count = async (key: string) =>
    Number((await ds.query(`SELECT count(*) AS n FROM ${effects} WHERE key = $1`, [key]))[0].n);

  async function terminateInFlight(key: string, what: string): Promise<void> {
    child!.send({ publish: key });
    await waitFor(
      () => messages.some((m) => m.key === key && m.inTransaction),
      `${what}: the handler inside its transaction`,
      10_000,
    );
    const pid = messages.find((m) => m.key === key && m.inTransaction)!.inTransaction;
    const [{ killed }] = await ds.query('SELECT pg_terminate_backend($1) AS killed', [pid]);
    expect(killed).toBe(true);
    await waitFor(
      () => messages.some((m) => m.handled === key) || exit !== undefined,
      `${what}: the retry`,
      15_000,
    ).catch((e) => {
      throw new Error(`${e.message}; messages ${JSON.stringify(messages)}; stderr ${stderr}`);
    });
    if (exit !== undefined) throw new Error(`the consumer process exited (${JSON.stringify(exit)}): ${stderr}`);
    expect(messages.find((m) => m.handled === key)!.attempt).toBe(2);
    await waitFor(async () => (await count(key)) === 1, `${what}: the effect committed once`, 5000);
  }

  it('survives a backend terminated while a statement of the handler runs; the retry applies it once', async () => {
    await terminateInFlight('block1', 'in a statement');
  }, 30_000);

  it('survives a backend terminated while the handler is idle in its transaction; nothing of that attempt commits', async () => {
    await terminateInFlight('idle1', 'idle in transaction');
    // the first attempt's write after the loss went nowhere (no auto-commit on another connection)
    expect(await count('idle1-after')).toBe(0);
  }, 30_000);

  it('survives every connection of the app terminated, idle ones included, and handles the next message', async () => {
    await ds.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
    child!.send({ publish: 'o2' });
    await waitFor(() => messages.some((m) => m.handled === 'o2') || exit !== undefined, 'the next message', 15_000);
    if (exit !== undefined) throw new Error(`the consumer process exited (${JSON.stringify(exit)}): ${stderr}`);
    await waitFor(async () => (await count('o2')) === 1, 'its effect', 5000);

    child!.send({ exit: true });
    await waitFor(() => exit !== undefined, 'the child to stop', 15_000);
    expect(exit).toEqual({ code: 0, signal: null });
  }, 60_000);
});
