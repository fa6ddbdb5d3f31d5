import { CommandHandler, EventBus, MessagingTransactions, type ICommandHandler } from '../../lib';
import { CreateOrder } from './create-order.command';
import { OrderCreated } from './order-created.event';
import { Order } from './order.entity';

/**
 * Saves the order and publishes OrderCreated in ONE transaction: the event is written to the
 * outbox with the order, so it exists if and only if the order does, and is delivered even if
 * the process dies right after the commit.
 */
@CommandHandler(CreateOrder)
export class CreateOrderHandler implements ICommandHandler<CreateOrder> {
  constructor(
    private readonly transactions: MessagingTransactions,
    private readonly eventBus: EventBus,
  ) {}

  execute(command: CreateOrder): Promise<Order> {
    return this.transactions.run(async (manager) => {
      const order = await manager.save(
        manager.create(Order, { customerId: command.customerId, totalAmount: command.totalAmount }),
      );
      await this.eventBus.publish(new OrderCreated(order.id, order.customerId, order.totalAmount), {
        partitionKey: order.id,
      });
      return order;
    });
  }
}
