import { Message, Query } from '../../lib';
import type { OrderView } from './get-order.handler';

/** Query: one order with what happened to it (null when there is none). */
@Message('GetOrder')
export class GetOrder extends Query<OrderView | null> {
  constructor(readonly orderId: string) {
    super();
  }
}
