import { Logger, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { TerminusModule } from '@nestjs/terminus';
import {
  CorrelationIdMiddleware,
  MessagingMetricsController,
  MessagingModule,
  createMessagingEntities,
  logAlerts,
  messagingOptionsFromEnv,
  type MessagingModuleOptions,
} from '../lib';
import { Order } from './orders/order.entity';
import { CreateOrderHandler } from './orders/create-order.handler';
import { GetOrderHandler } from './orders/get-order.handler';
import { OrdersController } from './orders/orders.controller';
import { Reservation } from './inventory/reservation.entity';
import { InventoryService } from './inventory/inventory.service';
import { Notification } from './notifications/notification.entity';
import { NotificationService } from './notifications/notification.service';
import { DeadLettersController } from './admin/dead-letters.controller';
import { HealthController } from './health/health.controller';

type Env = Record<string, string | undefined>;

/** PostgreSQL when DATABASE_URL is set, else the embedded SQLite (no services needed). */
export function sampleDatabase(env: Env): TypeOrmModuleOptions {
  const entities = [Order, Reservation, Notification];
  if (env.DATABASE_URL) {
    return {
      type: 'postgres',
      url: env.DATABASE_URL,
      entities: [...entities, ...createMessagingEntities({ database: 'postgres' })],
      synchronize: true,
    };
  }
  return {
    type: 'better-sqlite3',
    database: env.SAMPLE_SQLITE_FILE ?? ':memory:',
    entities: [...entities, ...createMessagingEntities({ database: 'sqlite' })],
    synchronize: true,
  };
}

/** Messaging options from MESSAGING_* variables; service "orders", outbox on, in-memory transport by default. */
export function sampleMessaging(env: Env): MessagingModuleOptions {
  const logger = new Logger('Alerts');
  const options = messagingOptionsFromEnv({ MESSAGING_SERVICE_NAME: 'orders', ...env });
  return {
    ...options,
    outbox: { pollIntervalMs: 200, ...options.outbox, enabled: true },
    onDeadLetter: (dl) =>
      logger.warn(
        `dead letter ${dl.id}: ${dl.type} for ${dl.subscriber} after ${dl.attempts} attempt(s): ${dl.error.message}`,
      ),
    // health goes down (and an alert is logged) past these limits
    monitoring: { thresholds: { maxOutboxAgeMs: 60_000, maxDeadLetters: 100 }, onAlert: logAlerts() },
  };
}

/** The orders sample: orders, inventory and notifications in one app. */
@Module({})
export class AppModule implements NestModule {
  static register(env: Env = process.env, overrides: Partial<MessagingModuleOptions> = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(sampleDatabase(env)),
        MessagingModule.forRoot({ ...sampleMessaging(env), ...overrides }),
        TerminusModule,
      ],
      controllers: [OrdersController, DeadLettersController, HealthController, MessagingMetricsController],
      providers: [CreateOrderHandler, GetOrderHandler, InventoryService, NotificationService],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationIdMiddleware).forRoutes('*path');
  }
}
