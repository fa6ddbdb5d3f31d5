import { Message } from '../../lib';

/** Query: one order with what happened to it. */
@Message('GetOrder')
export class GetOrder {
  constructor(readonly orderId: string) {}
}
