import { DataSource } from 'typeorm';
import { QueryHandler, type IQueryHandler } from '../../lib';
import { GetOrder } from './get-order.query';
import { Order } from './order.entity';
import { Reservation } from '../inventory/reservation.entity';
import { Notification } from '../notifications/notification.entity';

/** What GET /orders/:id returns. */
export interface OrderView {
  order: Order;
  reservations: Reservation[];
  notifications: Notification[];
}

@QueryHandler(GetOrder)
export class GetOrderHandler implements IQueryHandler<GetOrder> {
  constructor(private readonly dataSource: DataSource) {}

  async execute(query: GetOrder): Promise<OrderView | null> {
    const order = await this.dataSource.manager.findOneBy(Order, { id: query.orderId });
    if (!order) return null;
    const [reservations, notifications] = await Promise.all([
      this.dataSource.manager.findBy(Reservation, { orderId: order.id }),
      this.dataSource.manager.findBy(Notification, { orderId: order.id }),
    ]);
    return { order, reservations, notifications };
  }
}
