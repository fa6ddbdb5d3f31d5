import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CommandHandler, MessageContext, QueryHandler, type ICommandHandler, type IQueryHandler } from '../../lib';
import { GetShipment, ShipOrder, type ShipmentView } from './shipping.contracts';
import { Shipment } from './shipment.entity';

/**
 * Handles ShipOrder sent by the orders service: through this service's `shipping.commands` queue,
 * in the inbox transaction (the shipment row and the processed-message row commit together, so a
 * redelivered command ships nothing twice), with retries and dead letters as for events.
 */
@CommandHandler(ShipOrder)
export class ShipOrderHandler implements ICommandHandler<ShipOrder> {
  private readonly logger = new Logger(ShipOrderHandler.name);

  constructor(private readonly ctx: MessageContext) {}

  async execute(command: ShipOrder): Promise<void> {
    const manager = this.ctx.manager;
    if (await manager.findOneBy(Shipment, { orderId: command.orderId })) return;
    await manager.save(
      manager.create(Shipment, {
        orderId: command.orderId,
        carrier: command.customerId.length % 2 === 0 ? 'parcel-express' : 'post',
        correlationId: this.ctx.correlationId!,
        causationId: this.ctx.messageId!,
      }),
    );
    this.logger.log(`shipping order ${command.orderId} (correlation ${this.ctx.correlationId})`);
  }
}

/** Answers GetShipment for the orders service (request/reply). */
@QueryHandler(GetShipment)
export class GetShipmentHandler implements IQueryHandler<GetShipment> {
  constructor(private readonly dataSource: DataSource) {}

  async execute(query: GetShipment): Promise<ShipmentView | null> {
    const row = await this.dataSource.manager.findOneBy(Shipment, { orderId: query.orderId });
    return row ? { ...row } : null;
  }
}
