import 'reflect-metadata';
import { Body, Controller, type INestApplication, Module, Post } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { IsInt, IsString, Min } from 'class-validator';
import request from 'supertest';
import {
  Command,
  CommandBus,
  CommandHandler,
  InMemoryBroker,
  Message,
  MessagingExceptionFilter,
  MessagingModule,
  Query,
  QueryBus,
  QueryHandler,
  type ICommandHandler,
} from '../../lib';

@Message('http.PlaceOrder')
class PlaceOrder extends Command<string> {
  @IsString() sku!: string;
  @IsInt() @Min(1) quantity!: number;
}

@Message('http.Unhandled')
class Unhandled extends Command {}

/** Routed to services of the test: one that never runs, one whose handler does not answer in time. */
@Message('http.AskNobody', { endpoint: 'http-nobody' })
class AskNobody extends Query<number> {}

@Message('http.AskSlow', { endpoint: 'http-slow' })
class AskSlow extends Query<number> {}

@QueryHandler(AskSlow)
class AskSlowHandler {
  execute(): Promise<number> {
    return new Promise((resolve) => setTimeout(() => resolve(1), 2_000));
  }
}

const broker = new InMemoryBroker();

@CommandHandler(PlaceOrder)
class PlaceOrderHandler implements ICommandHandler<PlaceOrder> {
  execute(command: PlaceOrder): string {
    return `order for ${command.quantity} × ${command.sku}`;
  }
}

@Controller('orders')
class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  place(@Body() body: { sku: unknown; quantity: unknown }): Promise<string> {
    return this.commands.execute(Object.assign(new PlaceOrder(), body));
  }

  @Post('unhandled')
  unhandled(): Promise<void> {
    return this.commands.execute(new Unhandled());
  }

  @Post('ask-nobody')
  askNobody(): Promise<number> {
    return this.queries.execute(new AskNobody());
  }

  @Post('ask-slow')
  askSlow(): Promise<number> {
    return this.queries.execute(new AskSlow(), { timeoutMs: 100 });
  }

  @Post('boom')
  boom(): never {
    throw new Error('not ours');
  }
}

@Module({
  imports: [MessagingModule.forRoot({ serviceName: 'http-filter', inMemory: { broker } })],
  controllers: [OrdersController],
  providers: [PlaceOrderHandler, { provide: APP_FILTER, useClass: MessagingExceptionFilter }],
})
class HttpAppModule {}

describe('MessagingExceptionFilter', () => {
  let app: INestApplication;
  let slow: TestingModule;

  beforeAll(async () => {
    slow = await Test.createTestingModule({
      imports: [MessagingModule.forRoot({ serviceName: 'http-slow', inMemory: { broker } })],
      providers: [AskSlowHandler],
    }).compile();
    await slow.init();
    const moduleRef = await Test.createTestingModule({ imports: [HttpAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    await slow.close();
  });

  it('passes a valid command through', async () => {
    const res = await request(app.getHttpServer()).post('/orders').send({ sku: 'A-1', quantity: 2 });
    expect(res.status).toBe(201);
    expect(res.text).toBe('order for 2 × A-1');
  });

  it('answers an invalid command with 400 and the field errors', async () => {
    const res = await request(app.getHttpServer()).post('/orders').send({ sku: 7, quantity: 0 });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      messageType: 'http.PlaceOrder',
      failures: expect.arrayContaining([
        { property: 'sku', constraints: { isString: expect.any(String) } },
        { property: 'quantity', constraints: { min: expect.any(String) } },
      ]),
    });
  });

  it('answers a command nobody handles with a 500 that names the missing handler', async () => {
    const res = await request(app.getHttpServer()).post('/orders/unhandled').send({});
    expect(res.status).toBe(500);
    expect(res.body.message).toMatch(/No command handler for "Unhandled"/);
  });

  it('answers a routed query with 503 when no instance of its service runs, 504 when it does not answer in time', async () => {
    const nobody = await request(app.getHttpServer()).post('/orders/ask-nobody').send({});
    expect(nobody.status).toBe(503);
    expect(nobody.body.message).toMatch(/http-nobody/);
    const late = await request(app.getHttpServer()).post('/orders/ask-slow').send({});
    expect(late.status).toBe(504);
    expect(late.body.message).toMatch(/http-slow/);
  });

  it('leaves other errors to Nest', async () => {
    const res = await request(app.getHttpServer()).post('/orders/boom').send({});
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });
});
