import { Injectable, Logger } from '@nestjs/common';
import { MessageContext, Subscribe } from '../../lib';
import { OrderCreated } from '../orders/order-created.event';
import { Reservation } from './reservation.entity';

@Injectable()
export class InventoryService {
  private readonly logger = new Logger(InventoryService.name);

  constructor(private readonly ctx: MessageContext) {}

  /**
   * Reserves stock. Runs in the inbox transaction: the reservation row and the processed-message
   * row commit together, so a redelivered OrderCreated reserves nothing twice.
   */
  @Subscribe(OrderCreated, { name: 'inventory' })
  async onOrderCreated(event: OrderCreated): Promise<void> {
    await this.ctx.manager.save(
      this.ctx.manager.create(Reservation, {
        orderId: event.orderId,
        correlationId: this.ctx.correlationId,
        causationId: this.ctx.messageId,
      }),
    );
    this.logger.log(`reserved stock for order ${event.orderId} (correlation ${this.ctx.correlationId})`);
  }
}
