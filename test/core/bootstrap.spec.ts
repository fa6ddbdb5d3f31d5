import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CommandBus as CqrsCommandBus,
  CommandHandler as CqrsCommandHandler,
  CqrsModule,
  EventBus as CqrsEventBus,
  EventsHandler,
  QueryBus as CqrsQueryBus,
  QueryHandler as CqrsQueryHandler,
  type IEventHandler,
} from '@nestjs/cqrs';
import {
  CommandBus,
  CommandHandler,
  DuplicateHandlerError,
  InvalidConfigurationError,
  Message,
  MessagingModule,
  QueryBus,
  Subscribe,
  messagingOptionsFromEnv,
  currentMessageContext,
  EventBus,
} from '../../lib';
import { startApp, waitFor } from './app.helper';

class Ping {}

@CommandHandler(Ping)
class PingA {
  execute() {
    return 'a';
  }
}
@CommandHandler(Ping)
class PingB {
  execute() {
    return 'b';
  }
}

class Unnamed {}
@Injectable()
class SubscribesToUnnamed {
  @Subscribe(Unnamed)
  on() {}
}

/** Two classes that share a name (two modules each with their own `OrderEvents`, say). */
const sameName = () => {
  @Injectable()
  class OrderEvents {
    @Subscribe('OrderPlaced')
    on() {}
  }
  return OrderEvents;
};

describe('bootstrap errors', () => {
  it('fails on two classes of the same name subscribing by their derived name, instead of merging them', async () => {
    const error = await startApp([sameName(), sameName()]).catch((e) => e);
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect(error.message).toMatch(/Two subscribers are named "OrderEvents.on".*another class also named/);
  });

  it('fails on two handlers for one command, naming both', async () => {
    const error = await startApp([PingA, PingB]).catch((e) => e);
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect(error.message).toMatch(/PingA and PingB/);
  });

  it('fails on a subscriber to a class without @Message, saying how to fix it', async () => {
    await expect(startApp([SubscribesToUnnamed])).rejects.toThrow(/decorate Unnamed with @Message\('Unnamed'\)/);
  });

  it.each([
    [{ serviceName: '' }, /serviceName must be/],
    [{ serviceName: 'a b' }, /serviceName must be/],
    [{ transport: 'kafka' }, /transport must be "memory", "rabbitmq"/],
    [{ concurrency: 0 }, /concurrency must be an integer from 1 to 10000/],
    [{ retry: { maxRetries: -1 } }, /retry.maxRetries must be an integer from 0 to 100/],
    [{ retry: { jitter: 2 } }, /retry.jitter must be a number from 0 to 1/],
    [{ transport: 'rabbitmq' }, /rabbitmq.url/],
    [{ colour: 'blue' }, /unknown option colour; accepted: serviceName/],
    [{ retry: { maxRetry: 0 } }, /unknown option retry.maxRetry; accepted: maxRetries/],
    [{ transport: 'rabbitmq', rabbitmq: { url: 'amqp://localhost', prefech: 5 } }, /unknown option rabbitmq.prefech/],
    [{ outbox: { pollInterval: 5 } }, /unknown option outbox.pollInterval/],
    [{ outbox: { retention: { sentDays: 1 } } }, /unknown option outbox.retention.sentDays/],
  ])('rejects bad options %p', async (options, message) => {
    const error = await startApp([], options as never).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    expect(error.message).toMatch(message);
  });

  it('fails on an unknown @Subscribe option', async () => {
    @Injectable()
    class Typo {
      @Subscribe('X', { retries: 3 } as never)
      on() {}
    }
    await expect(startApp([Typo])).rejects.toThrow(/unknown option @Subscribe on Typo.on:.retries/);
  });

  it('merges nested overrides over environment variables key by key', () => {
    const options = messagingOptionsFromEnv(
      { MESSAGING_SERVICE_NAME: 'orders', MESSAGING_AMQP_URL: 'amqp://u:p@h', MESSAGING_RETRY_MAX: '5' },
      { rabbitmq: { url: undefined as never, prefetch: 50 }, retry: { initialDelayMs: 10 } },
    );
    expect(options.rabbitmq).toEqual({ url: 'amqp://u:p@h', prefetch: 50 });
    expect(options.retry).toEqual({ maxRetries: 5, initialDelayMs: 10 });
  });

  it('keeps the outbox settings from the environment when overrides switch the outbox on', () => {
    const env = {
      MESSAGING_SERVICE_NAME: 'orders',
      MESSAGING_OUTBOX_TABLE: 'orders_outbox',
      MESSAGING_OUTBOX_POLL_INTERVAL_MS: '250',
    };
    // the settings alone do not switch it on
    expect(messagingOptionsFromEnv(env).outbox).toBeUndefined();
    expect(messagingOptionsFromEnv(env, { outbox: { enabled: true } }).outbox).toEqual({
      enabled: true,
      outboxTable: 'orders_outbox',
      pollIntervalMs: 250,
    });
    expect(
      messagingOptionsFromEnv({ ...env, MESSAGING_OUTBOX: 'true' }, { outbox: { pollIntervalMs: 100 } }).outbox,
    ).toEqual({ enabled: true, outboxTable: 'orders_outbox', pollIntervalMs: 100 });
  });

  it('reads options from environment variables, with clear errors', () => {
    expect(
      messagingOptionsFromEnv({
        MESSAGING_SERVICE_NAME: 'orders',
        MESSAGING_TRANSPORT: 'memory',
        MESSAGING_RETRY_MAX: '5',
        MESSAGING_CONCURRENCY: '4',
      }),
    ).toEqual({ serviceName: 'orders', transport: 'memory', retry: { maxRetries: 5 }, concurrency: 4 });
    expect(() => messagingOptionsFromEnv({})).toThrow(/MESSAGING_SERVICE_NAME is not set/);
    expect(() => messagingOptionsFromEnv({ MESSAGING_SERVICE_NAME: 'x', MESSAGING_TRANSPORT: 'kafka' })).toThrow(
      /MESSAGING_TRANSPORT must be/,
    );
    expect(() => messagingOptionsFromEnv({ MESSAGING_SERVICE_NAME: 'x', MESSAGING_RETRY_MAX: 'many' })).toThrow(
      /MESSAGING_RETRY_MAX must be a number/,
    );
  });
});

describe('forRootAsync', () => {
  it('builds options from an injected provider', async () => {
    @Module({ providers: [{ provide: 'ENV', useValue: { MESSAGING_SERVICE_NAME: 'async-svc' } }], exports: ['ENV'] })
    class EnvModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        MessagingModule.forRootAsync({
          imports: [EnvModule],
          inject: ['ENV'],
          useFactory: (env: Record<string, string>) => messagingOptionsFromEnv(env),
        }),
      ],
      providers: [PingA],
    }).compile();
    await moduleRef.init();
    expect(await moduleRef.get(CommandBus).execute(new Ping())).toBe('a');
    await moduleRef.close();
  });
});

// ---- an app written for @nestjs/cqrs ----
class RegisterUser {
  constructor(readonly email: string) {}
}
class FindUser {
  constructor(readonly email: string) {}
}
@Message('UserRegistered')
class UserRegistered {
  constructor(readonly email: string) {}
}
const cqrsSeen: Array<{ email: string; correlationId?: string }> = [];

@CqrsCommandHandler(RegisterUser)
class RegisterUserHandler {
  constructor(private readonly events: CqrsEventBus) {}
  async execute(cmd: RegisterUser) {
    this.events.publish(new UserRegistered(cmd.email));
    return `registered ${cmd.email}`;
  }
}
@CqrsQueryHandler(FindUser)
class FindUserHandler {
  execute(q: FindUser) {
    return { email: q.email };
  }
}
@EventsHandler(UserRegistered)
class WelcomeMailer implements IEventHandler<UserRegistered> {
  handle(event: UserRegistered) {
    cqrsSeen.push({ email: event.email, correlationId: currentMessageContext()?.correlationId });
  }
}

describe('@nestjs/cqrs compatibility', () => {
  it('finds cqrs-decorated handlers, runs @EventsHandler classes as subscribers and bridges the cqrs EventBus', async () => {
    const app = await startApp([RegisterUserHandler, FindUserHandler, WelcomeMailer], {}, [CqrsModule.forRoot()]);
    // our buses dispatch to cqrs-decorated handlers
    expect(await app.get(CommandBus).execute(new RegisterUser('a@x'), { correlationId: 'c-42' })).toBe(
      'registered a@x',
    );
    expect(await app.get(QueryBus).execute(new FindUser('a@x'))).toEqual({ email: 'a@x' });
    await waitFor(() => cqrsSeen.length === 1, 'event handled');
    expect(cqrsSeen[0]).toEqual({ email: 'a@x', correlationId: 'c-42' });
    // and cqrs' own buses still work, with events going through our pipeline exactly once
    expect(await app.get(CqrsCommandBus).execute(new RegisterUser('b@x'))).toBe('registered b@x');
    expect(await app.get(CqrsQueryBus).execute(new FindUser('b@x'))).toEqual({ email: 'b@x' });
    await waitFor(() => cqrsSeen.length === 2, 'second event');
    // a third event behind the others: once it is handled, a duplicate of the second would have been too
    expect(await app.get(CqrsCommandBus).execute(new RegisterUser('c@x'))).toBe('registered c@x');
    await waitFor(() => cqrsSeen.some((s) => s.email === 'c@x'), 'the third event');
    expect(cqrsSeen.map((s) => s.email)).toEqual(['a@x', 'b@x', 'c@x']);
    await app.close();
  });

  it('our @CommandHandler is also understood by the cqrs CommandBus', async () => {
    const app = await startApp([PingA], {}, [CqrsModule.forRoot()]);
    expect(await app.get(CqrsCommandBus).execute(new Ping())).toBe('a');
    await app.close();
  });
});

describe('graceful shutdown', () => {
  it('waits for in-flight handlers before closing', async () => {
    let finished = 0;
    let started = 0;
    @Injectable()
    class SlowSubscriber {
      @Subscribe('SlowWork')
      async work() {
        started++;
        await new Promise((r) => setTimeout(r, 200));
        finished++;
      }
    }
    const app = await startApp([SlowSubscriber]);
    await app.get(EventBus).publishAll([{ type: 'SlowWork' }, { type: 'SlowWork' }]);
    // explicitly: both handlers are running (not finished) when the app closes
    await waitFor(() => started === 2, 'both handlers started');
    expect(finished).toBe(0);
    await app.close();
    expect(finished).toBe(2);
  });
});
