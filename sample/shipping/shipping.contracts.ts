import { IsString, IsUUID } from 'class-validator';
import { Command, Message, Query } from '../../lib';

/**
 * The shipping service's public contract, shared by both apps (in a real system: a small package).
 * `endpoint: 'shipping'` routes these to the service named "shipping": the orders app sends them
 * with its ordinary `CommandBus` / `QueryBus`, and the shipping app handles them with its ordinary
 * `@CommandHandler` / `@QueryHandler`.
 */

/** Command: ship an order. Durable: the orders app's promise resolves once it is stored. */
@Message('shipping.ShipOrder', { endpoint: 'shipping' })
export class ShipOrder extends Command<void> {
  @IsUUID() orderId!: string;
  @IsString() customerId!: string;

  constructor(orderId: string, customerId: string) {
    super();
    this.orderId = orderId;
    this.customerId = customerId;
  }
}

/** What the shipping service knows of an order's shipment. */
export interface ShipmentView {
  orderId: string;
  carrier: string;
  correlationId: string;
  /** Id of the ShipOrder command that created it. */
  causationId: string;
}

/** Query: the shipment of an order (null when none). Request/reply with a timeout. */
@Message('shipping.GetShipment', { endpoint: 'shipping' })
export class GetShipment extends Query<ShipmentView | null> {
  @IsUUID() orderId!: string;

  constructor(orderId: string) {
    super();
    this.orderId = orderId;
  }
}
