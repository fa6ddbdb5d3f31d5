import { IsInt, IsString } from 'class-validator';
import { Message } from '../../lib';

/** Event: an order was created. Version 1 of its schema. */
@Message('OrderCreated', { version: 1 })
export class OrderCreated {
  @IsString() orderId!: string;
  @IsString() customerId!: string;
  @IsInt() totalAmount!: number;

  constructor(orderId: string, customerId: string, totalAmount: number) {
    this.orderId = orderId;
    this.customerId = customerId;
    this.totalAmount = totalAmount;
  }
}
