import { IsInt, IsString, Length, Min } from 'class-validator';
import { Message } from '../../lib';

/** Command: create an order. Validated on send (class-validator). */
@Message('CreateOrder')
export class CreateOrder {
  @IsString() @Length(1, 100) customerId!: string;
  @IsInt() @Min(1) totalAmount!: number;

  constructor(customerId: string, totalAmount: number) {
    this.customerId = customerId;
    this.totalAmount = totalAmount;
  }
}
