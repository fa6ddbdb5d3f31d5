import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from './args';
import { withEnvFile } from './env-file';

describe('withEnvFile', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'env-file-'));
  });
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('reads .env when present, the real environment winning, and leaves argv alone', () => {
    fs.writeFileSync(path.join(cwd, '.env'), 'A=from-file\nB="quoted value"\n# comment\n');
    const r = withEnvFile(['dlq', 'list'], { A: 'real' }, cwd);
    expect(r.env).toEqual({ A: 'real', B: 'quoted value' });
    expect(r.argv).toEqual(['dlq', 'list']);
  });

  it('reads --env-file (both forms) and removes it from argv; a missing one is a usage error', () => {
    fs.writeFileSync(path.join(cwd, 'ops.env'), 'C=3\n');
    expect(withEnvFile(['dlq', '--env-file', 'ops.env', 'list'], {}, cwd)).toMatchObject({
      argv: ['dlq', 'list'],
      env: { C: '3' },
    });
    expect(withEnvFile(['--env-file=ops.env'], {}, cwd).env).toEqual({ C: '3' });
    expect(() => withEnvFile(['--env-file', 'nope.env'], {}, cwd)).toThrow(UsageError);
    expect(() => withEnvFile(['--env-file'], {}, cwd)).toThrow(/needs a path/);
  });

  it('without a file, the environment is used as is', () => {
    const env = { X: '1' };
    expect(withEnvFile([], env, cwd).env).toBe(env);
  });
});
