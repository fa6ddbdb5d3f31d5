import { Injectable, Logger } from '@nestjs/common';
import { MessageContext, Subscribe } from '../../lib';
import { Notification } from './notification.entity';

/** The customer id that makes the notification subscriber fail, to watch retries and dead letters. */
export const UNREACHABLE_CUSTOMER = 'unreachable';

/** The event as this subscriber sees it: a plain object (subscribed by type name). */
interface OrderCreatedEvent {
  orderId: string;
  customerId: string;
  totalAmount: number;
}

@Injectable()
export class NotificationService {
  private readonly logger = new Logger(NotificationService.name);

  constructor(private readonly ctx: MessageContext) {}

  /** Sends the confirmation; customer "unreachable" fails every time: 2 retries, then the dead-letter queue. */
  @Subscribe('OrderCreated', { name: 'notifications', retry: { maxRetries: 2, initialDelayMs: 200 } })
  async onOrderCreated(event: OrderCreatedEvent): Promise<void> {
    if (event.customerId === UNREACHABLE_CUSTOMER) {
      throw new Error(`mail server refused customer ${event.customerId} (attempt ${this.ctx.attempt})`);
    }
    await this.ctx.manager.save(
      this.ctx.manager.create(Notification, {
        orderId: event.orderId,
        customerId: event.customerId,
        correlationId: this.ctx.correlationId,
      }),
    );
    this.logger.log(`sent confirmation of order ${event.orderId} to ${event.customerId}`);
  }
}
