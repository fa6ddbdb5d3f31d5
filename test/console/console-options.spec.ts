import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidConfigurationError,
  MessagingConsoleModule,
  MessagingModule,
  resolveConsoleOptions,
  type MessagingConsoleOptions,
} from '../../lib';
import { CapturingLogger } from '../rabbitmq/rabbitmq-test.helpers';

/* The console refuses to start without an auth hook, and refuses options it cannot honour, saying what to set. */
const TOKEN = 'a-console-token-of-32-characters';

@Injectable()
class AllowAll {
  canActivate(): boolean {
    return true;
  }
}

function refusal(run: () => unknown): InvalidConfigurationError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    return err as InvalidConfigurationError;
  }
  throw new Error('expected an InvalidConfigurationError');
}

describe('MessagingConsoleModule options', () => {
  it('refuses to start without a guard or a token, saying what to set', () => {
    for (const options of [{}, { path: '/ops' }, { title: 'x' }] as MessagingConsoleOptions[]) {
      const err = refusal(() => MessagingConsoleModule.forRoot(options));
      expect(err.message).toContain('needs an auth hook');
      expect(err.message).toContain('`guard`');
      expect(err.message).toContain('`token`');
    }
  });

  it('forRootAsync refuses at bootstrap when the factory gives no token and there is no guard', async () => {
    const logger = new CapturingLogger();
    const compile = Test.createTestingModule({
      imports: [
        MessagingModule.forRoot({ serviceName: 'console-options' }),
        MessagingConsoleModule.forRootAsync({ useFactory: () => ({ title: 'no auth' }) }),
      ],
    })
      .setLogger(logger)
      .compile();
    await expect(compile).rejects.toBeInstanceOf(InvalidConfigurationError);
    await expect(compile).rejects.toThrow(/needs an auth hook/);
  });

  it('refuses a short token without echoing it', () => {
    const err = refusal(() => MessagingConsoleModule.forRoot({ token: 'hunter2-secret' }));
    expect(err.message).toContain('at least 16 characters (got 14 characters)');
    expect(err.message).not.toContain('hunter2');
    expect(refusal(() => MessagingConsoleModule.forRoot({ token: 42 as unknown as string })).message).toContain(
      'got number',
    );
  });

  it('refuses a guard that is not a CanActivate, and paths that are not plain paths', () => {
    expect(refusal(() => MessagingConsoleModule.forRoot({ guard: class {} as never })).message).toContain(
      'guard must be a class implementing CanActivate',
    );
    for (const path of ['/', '', '/../admin', '/a b', '/ops/:id', '/x?y']) {
      expect(refusal(() => MessagingConsoleModule.forRoot({ path, token: TOKEN })).message).toContain('path must be');
    }
    expect(refusal(() => MessagingConsoleModule.forRoot({ token: TOKEN, refreshIntervalMs: 10 })).message).toContain(
      'refreshIntervalMs must be an integer from 1000',
    );
  });

  it('normalizes the path and keeps only a digest of the token', () => {
    const resolved = resolveConsoleOptions({ path: 'ops//messaging/', token: TOKEN, guard: AllowAll });
    expect(resolved.path).toBe('/ops/messaging');
    expect(resolved.hasGuard).toBe(true);
    expect(resolved.tokenDigest).toHaveLength(32);
    expect(JSON.stringify(resolved)).not.toContain(TOKEN);
    expect(resolveConsoleOptions({ guard: new AllowAll() }).path).toBe('/messaging');
  });

  it('trims the token, so one read from a secret file with its newline still matches what operators type', () => {
    const fromFile = resolveConsoleOptions({ token: `  ${TOKEN}\n` });
    expect(fromFile.tokenDigest!.equals(resolveConsoleOptions({ token: TOKEN }).tokenDigest!)).toBe(true);
  });
});
