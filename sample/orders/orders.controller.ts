import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpException,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
} from '@nestjs/common';
import { CommandBus, InvalidMessageError, NoResponderError, QueryBus, QueryTimeoutError } from '../../lib';
import { GetShipment, ShipOrder, type ShipmentView } from '../shipping/shipping.contracts';
import { CreateOrder } from './create-order.command';
import { GetOrder } from './get-order.query';
import type { Order } from './order.entity';
import type { OrderView } from './get-order.handler';

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  /** Body: `{ "customerId": "c-1", "totalAmount": 42 }`. Send `x-correlation-id` to join a correlation. */
  @Post()
  async create(@Body() body: { customerId: string; totalAmount: number }): Promise<Order> {
    try {
      return await this.commands.execute(new CreateOrder(body?.customerId, body?.totalAmount));
    } catch (err) {
      if (err instanceof InvalidMessageError)
        throw new HttpException({ message: err.message, failures: err.failures }, 400);
      throw err;
    }
  }

  @Get(':id')
  async get(@Param('id', ParseUUIDPipe) id: string): Promise<OrderView> {
    const view = await this.queries.execute(new GetOrder(id));
    if (!view) throw new NotFoundException(`order ${id} not found`);
    return view;
  }

  /** Asks the shipping service (another app) to ship the order: durable, answered 202 once stored. */
  @Post(':id/ship')
  @HttpCode(202)
  async ship(@Param('id', ParseUUIDPipe) id: string): Promise<{ orderId: string; status: 'accepted' }> {
    const view = await this.get(id);
    await this.commands.execute(new ShipOrder(id, view.order.customerId));
    return { orderId: id, status: 'accepted' };
  }

  /** The order's shipment, asked of the shipping service (request/reply, 2 s timeout). */
  @Get(':id/shipment')
  async shipment(@Param('id', ParseUUIDPipe) id: string): Promise<ShipmentView> {
    try {
      const shipment = await this.queries.execute(new GetShipment(id), { timeoutMs: 2_000 });
      if (!shipment) throw new NotFoundException(`order ${id} has no shipment yet`);
      return shipment;
    } catch (err) {
      if (err instanceof NoResponderError) throw new HttpException('the shipping service is not running', 503);
      if (err instanceof QueryTimeoutError) throw new HttpException('the shipping service did not answer', 504);
      throw err;
    }
  }
}
