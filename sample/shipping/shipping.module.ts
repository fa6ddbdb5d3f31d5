import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import {
  MessagingModule,
  createMessagingEntities,
  messagingOptionsFromEnv,
  type MessagingModuleOptions,
} from '../../lib';
import { Shipment } from './shipment.entity';
import { GetShipmentHandler, ShipOrderHandler } from './shipping.handlers';

type Env = Record<string, string | undefined>;

/** Its own tables, so it can share the orders sample's database without sharing its outbox. */
const TABLES = { outboxTable: 'shipping_outbox', inboxTable: 'shipping_inbox' };

function database(env: Env): TypeOrmModuleOptions {
  if (env.DATABASE_URL) {
    return {
      type: 'postgres',
      url: env.DATABASE_URL,
      entities: [Shipment, ...createMessagingEntities({ database: 'postgres', ...TABLES })],
      synchronize: true,
    };
  }
  return {
    type: 'better-sqlite3',
    database: ':memory:',
    entities: [Shipment, ...createMessagingEntities({ database: 'sqlite', ...TABLES })],
    synchronize: true,
  };
}

/**
 * The second service of the sample: "shipping", a separate Nest app. It receives the ShipOrder
 * command the orders app sends and answers its GetShipment query; nothing in either app says
 * where the other runs beyond `@Message(..., { endpoint: 'shipping' })` on the shared contract.
 */
@Module({})
export class ShippingAppModule {
  static register(env: Env = process.env, overrides: Partial<MessagingModuleOptions> = {}): DynamicModule {
    const options = messagingOptionsFromEnv({ ...env, MESSAGING_SERVICE_NAME: 'shipping' });
    return {
      module: ShippingAppModule,
      imports: [
        TypeOrmModule.forRoot(database(env)),
        MessagingModule.forRoot({
          ...options,
          outbox: { pollIntervalMs: 200, ...options.outbox, ...TABLES, enabled: true },
          ...overrides,
        }),
      ],
      providers: [ShipOrderHandler, GetShipmentHandler],
    };
  }
}
