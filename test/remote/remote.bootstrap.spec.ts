import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import {
  Command,
  CommandBus,
  CommandHandler,
  HandlerNotFoundError,
  Query,
  DuplicateHandlerError,
  InMemoryBroker,
  InvalidConfigurationError,
  Message,
  MessageContext,
  QueryBus,
  QueryHandler,
  RemoteHandlerError,
  Subscribe,
} from '../../lib';
import { waitFor } from '../setup/wait';
import { encodeEnvelope } from '../../lib/message/cloudevents.codec';
import { uuidv7 } from '../../lib/message/uuid-v7';
import { InMemoryTransport, MESSAGING_TRANSPORT, type MessageTransport, type OutboundMessage } from '../../lib';
import { startService } from './remote-scenario';

/** Routed by its decorator alone: no module option on either side. */
@Message('boot.ShipParcel', { endpoint: 'parcels' })
class ShipParcel {
  constructor(readonly parcelId: string) {}
}

@Message('boot.CountParcels', { endpoint: 'parcels' })
class CountParcels {
  constructor(readonly prefix: string) {}
}

/** Version 2 of a routed command; version 1 had no `carrier`. */
@Message('boot.Relabel', { endpoint: 'parcels', version: 2, upcasters: { 1: (v1) => ({ ...v1, carrier: 'post' }) } })
class Relabel {
  constructor(
    readonly parcelId: string,
    readonly carrier: string,
  ) {}
}

const relabelled: Relabel[] = [];

@CommandHandler(Relabel)
class RelabelHandler {
  execute(command: Relabel): void {
    relabelled.push(command);
  }
}

/** A transport of the user's own (no request/reply), here delegating to the in-memory one. */
class OwnTransport implements MessageTransport {
  readonly name = 'own';
  readonly capabilities;
  readonly deadLetters;
  constructor(private readonly inner: InMemoryTransport) {
    this.capabilities = inner.capabilities;
    this.deadLetters = inner.deadLetters;
  }
  connect: MessageTransport['connect'] = (c) => this.inner.connect(c);
  publish = (m: OutboundMessage) => this.inner.publish(m);
  subscribe: MessageTransport['subscribe'] = (s, h) => this.inner.subscribe(s, h);
  stats = () => this.inner.stats();
  isConnected = () => this.inner.isConnected();
  close = (ms: number) => this.inner.close(ms);
}

@Message('boot.TypedShip')
class TypedShip extends Command<void> {}

@Message('boot.TypedCount')
class TypedCount extends Query<number> {}

/** Not a `@Message` class. */
class Undeclared {}

const shipped: Array<{ parcelId: string; subscriber?: string }> = [];

@CommandHandler(ShipParcel)
class ShipParcelHandler {
  constructor(private readonly ctx: MessageContext) {}
  execute(command: ShipParcel): void {
    shipped.push({ parcelId: command.parcelId, subscriber: this.ctx.subscriber });
  }
}

@CommandHandler('boot.ShipParcel')
class SecondShipParcelHandler {
  execute(): void {}
}

@QueryHandler(CountParcels)
class CountParcelsHandler {
  execute(query: CountParcels): number | Promise<number> {
    if (query.prefix === 'hang-forever') return new Promise<number>(() => undefined);
    return shipped.filter((s) => s.parcelId.startsWith(query.prefix)).length;
  }
}

@Injectable()
class QueriesNamedSubscriber {
  @Subscribe('boot.SomethingElse', { name: 'queries' })
  on(): void {}
}

@Injectable()
class CommandsNamedSubscriber {
  @Subscribe('boot.Something', { name: 'commands' })
  on(): void {}
}

describe('commands and queries across services: routing declarations and bootstrap checks', () => {
  const apps: TestingModule[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('routes by @Message endpoint alone: the sender executes as in one service, the receiver handles it', async () => {
    const broker = new InMemoryBroker();
    const parcels = await startService({ serviceName: 'parcels', inMemory: { broker } }, [
      ShipParcelHandler,
      CountParcelsHandler,
    ]);
    const shop = await startService({ serviceName: 'shop', inMemory: { broker } }, []);
    apps.push(parcels, shop);
    await shop.get(CommandBus).execute(new ShipParcel('p-1'));
    await waitFor(() => shipped.some((s) => s.parcelId === 'p-1'), 'parcel shipped');
    expect(shipped.find((s) => s.parcelId === 'p-1')!.subscriber).toBe('commands');
    await expect(shop.get(QueryBus).execute<number>(new CountParcels('p-'))).resolves.toBe(1);
    // the receiving service still runs its own commands in process
    await parcels.get(CommandBus).execute(new ShipParcel('p-local'));
    expect(shipped.find((s) => s.parcelId === 'p-local')!.subscriber).toBeUndefined();
  });

  it('puts a routed Command class on the CommandBus only and a Query class on the QueryBus only', async () => {
    const broker = new InMemoryBroker();
    const shop = await startService(
      { serviceName: 'shop', inMemory: { broker }, remote: { routes: { stock: [TypedShip, TypedCount] } } },
      [],
    );
    apps.push(shop);
    // the wrong bus fails as in one service: nothing is sent to be dead-lettered over there
    await expect(shop.get(CommandBus).execute(new TypedCount())).rejects.toBeInstanceOf(HandlerNotFoundError);
    await expect(shop.get(QueryBus).execute(new TypedShip())).rejects.toBeInstanceOf(HandlerNotFoundError);
  });

  it('fails when a class routed to another service also has a handler in this one', async () => {
    await expect(startService({ serviceName: 'shop' }, [ShipParcelHandler])).rejects.toThrow(
      /"boot\.ShipParcel" is routed to service "parcels" but ShipParcelHandler handles it in this service \("shop"\) too/,
    );
  });

  it('fails when the receiving service declares the routed command’s handler twice', async () => {
    const error = await startService({ serviceName: 'parcels' }, [ShipParcelHandler, SecondShipParcelHandler]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DuplicateHandlerError);
    expect((error as Error).message).toMatch(/ShipParcelHandler and SecondShipParcelHandler/);
  });

  it('fails when a type is routed to two endpoints (decorator and module option)', async () => {
    await expect(
      startService({ serviceName: 'shop', remote: { routes: { billing: [ShipParcel] } } }, []),
    ).rejects.toThrow(/"boot\.ShipParcel" is routed to both "parcels" and "billing"/);
  });

  it('fails on a routed class without @Message, and on bad remote options', async () => {
    const cases: Array<[object, RegExp]> = [
      [{ routes: { billing: [Undeclared] } }, /class Undeclared has no message type/],
      [{ routes: { 'bad name': ['x.Y'] } }, /endpoint "bad name" must be/],
      [{ routes: { billing: 'x.Y' } }, /remote\.routes\.billing must be an array/],
      [{ queryTimeoutMs: 0 }, /remote\.queryTimeoutMs must be an integer/],
      [{ maxReplyBytes: 10 }, /remote\.maxReplyBytes must be an integer/],
      [{ routs: {} }, /unknown option remote\.routs/],
    ];
    for (const [remote, message] of cases) {
      const error = await startService({ serviceName: 'shop', remote } as never, []).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidConfigurationError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('refuses an invalid endpoint on @Message, and a subscriber named like the routed-commands or queries queue', async () => {
    expect(() => Message('boot.Bad', { endpoint: 'has space' })).toThrow(InvalidConfigurationError);
    await expect(
      startService({ serviceName: 'parcels' }, [ShipParcelHandler, CommandsNamedSubscriber]),
    ).rejects.toThrow(/a subscriber is named "commands"/);
    await expect(
      startService({ serviceName: 'parcels' }, [CountParcelsHandler, QueriesNamedSubscriber]),
    ).rejects.toThrow(/a subscriber is named "queries"/);
  });

  it('answers a query whose handler hangs with HandlerTimeoutError after handlerTimeoutMs, and frees its slot', async () => {
    const broker = new InMemoryBroker();
    const parcels = await startService(
      { serviceName: 'parcels', inMemory: { broker }, concurrency: 1, handlerTimeoutMs: 200 },
      [CountParcelsHandler],
    );
    const shop = await startService({ serviceName: 'shop', inMemory: { broker } }, []);
    apps.push(parcels, shop);
    const queries = shop.get(QueryBus);
    const hung = await queries.execute(new CountParcels('hang-forever')).catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(RemoteHandlerError);
    expect((hung as RemoteHandlerError).remoteName).toBe('HandlerTimeoutError');
    // the only slot (concurrency 1) is free again although that handler never returns
    await expect(queries.execute<number>(new CountParcels('p-'))).resolves.toEqual(expect.any(Number));
  });

  it('rejects a per-call query timeout that is not a positive integer, before sending', async () => {
    const broker = new InMemoryBroker();
    const parcels = await startService({ serviceName: 'parcels', inMemory: { broker } }, [CountParcelsHandler]);
    const shop = await startService({ serviceName: 'shop', inMemory: { broker } }, []);
    apps.push(parcels, shop);
    await expect(shop.get(QueryBus).execute(new CountParcels('x'), { timeoutMs: -5 })).rejects.toThrow(
      /timeoutMs must be an integer/,
    );
  });

  it('upcasts an older version of a routed command to the version its handler takes', async () => {
    const broker = new InMemoryBroker();
    const parcels = await startService({ serviceName: 'parcels', inMemory: { broker } }, [RelabelHandler]);
    apps.push(parcels);
    const id = uuidv7();
    const envelope = {
      id,
      type: 'boot.Relabel',
      version: 1,
      time: new Date().toISOString(),
      source: 'old-shop',
      correlationId: id,
      headers: {},
      data: { parcelId: 'p-v1' },
    };
    const transport = parcels.get<string, MessageTransport>(MESSAGING_TRANSPORT);
    await transport.publish({ envelope, body: encodeEnvelope(envelope), destination: 'commands' });
    await waitFor(() => relabelled.length === 1, 'the upcast command handled');
    expect(relabelled[0]).toBeInstanceOf(Relabel);
    expect({ ...relabelled[0] }).toEqual({ parcelId: 'p-v1', carrier: 'post' });
  });

  it('on a transport without request/reply, sends routed commands and fails routed queries clearly', async () => {
    const broker = new InMemoryBroker();
    const parcels = await startService({ serviceName: 'parcels', inMemory: { broker } }, [ShipParcelHandler]);
    const shop = await startService(
      { serviceName: 'shop', transport: new OwnTransport(new InMemoryTransport(broker)) },
      [],
    );
    apps.push(parcels, shop);
    await shop.get(CommandBus).execute(new ShipParcel('p-own'));
    await waitFor(() => shipped.some((s) => s.parcelId === 'p-own'), 'the command over the own transport');
    await expect(shop.get(QueryBus).execute(new CountParcels('p-'))).rejects.toThrow(
      /routed queries need request\/reply, which the "own" transport does not offer/,
    );
    await expect(
      startService({ serviceName: 'parcels', transport: new OwnTransport(new InMemoryTransport(broker)) }, [
        CountParcelsHandler,
      ]),
    ).rejects.toThrow(InvalidConfigurationError);
  });
});
