import { Body, Controller, Get, HttpException, NotFoundException, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { CommandBus, InvalidMessageError, QueryBus } from '../../lib';
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
}
