import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('sample_shipments')
export class Shipment {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  orderId!: string;

  @Column({ type: 'varchar', length: 100 })
  carrier!: string;

  @Column({ type: 'varchar', length: 200 })
  correlationId!: string;

  @Column({ type: 'varchar', length: 200 })
  causationId!: string;
}
