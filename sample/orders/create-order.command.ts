import { IsInt, IsString, Length, Min } from 'class-validator';
import { Command, Message } from '../../lib';
import type { Order } from './order.entity';

/** Command: create an order (its handler returns the `Order`). Validated on send (class-validator). */
@Message('CreateOrder')
export class CreateOrder extends Command<Order> {
  @IsString() @Length(1, 100) customerId!: string;
  @IsInt() @Min(1) totalAmount!: number;

  constructor(customerId: string, totalAmount: number) {
    super();
    this.customerId = customerId;
    this.totalAmount = totalAmount;
  }
}
