import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { InMemoryBroker } from '../../lib';
import { AppModule } from '../../sample/app.module';
import { ShippingAppModule } from '../../sample/shipping/shipping.module';
import { waitFor } from '../setup/wait';

const quiet = { log() {}, error() {}, warn() {}, debug() {}, verbose() {}, fatal() {} };

/**
 * The sample's two services, each its own Nest app with its own database, over one in-memory
 * broker: orders sends ShipOrder (a routed command) and asks GetShipment (a routed query) of shipping.
 */
describe('sample: the orders app and the shipping app (two services, in memory)', () => {
  const broker = new InMemoryBroker();
  let orders: INestApplication;
  let shipping: INestApplicationContext | undefined;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register({}, { inMemory: { broker } })] })
      .setLogger(quiet)
      .compile();
    orders = moduleRef.createNestApplication({ logger: false });
    await orders.init();
  });

  afterAll(async () => {
    await shipping?.close();
    await orders?.close();
  });

  it('answers 503 while shipping is not running, keeps the ship command, and ships once shipping starts', async () => {
    const http = () => request(orders.getHttpServer());
    const created = await http()
      .post('/orders')
      .set('x-correlation-id', 'ship-flow')
      .send({ customerId: 'carol', totalAmount: 12 })
      .expect(201);
    const orderId: string = created.body.id;
    await http().get(`/orders/${orderId}/shipment`).expect(503);
    await http().post(`/orders/${orderId}/ship`).set('x-correlation-id', 'ship-flow').expect(202);

    const shippingRef = await Test.createTestingModule({
      imports: [ShippingAppModule.register({}, { inMemory: { broker } })],
    })
      .setLogger(quiet)
      .compile();
    shipping = await shippingRef.init();

    let shipment: { status: number; body: Record<string, string> } = { status: 0, body: {} };
    await waitFor(async () => {
      shipment = await http().get(`/orders/${orderId}/shipment`);
      return shipment.status === 200;
    }, 'the shipment, asked of the shipping service');
    expect(shipment.body).toMatchObject({ orderId, carrier: 'post', correlationId: 'ship-flow' });
    expect(shipment.body.causationId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('answers 404 through the shipping service for an order it never shipped', async () => {
    await request(orders.getHttpServer())
      .get(`/orders/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/shipment`)
      .expect(404);
  });
});
