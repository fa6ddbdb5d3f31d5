import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('sample_notifications')
export class Notification {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  orderId!: string;

  @Column({ type: 'varchar', length: 100 })
  customerId!: string;

  @Column({ type: 'varchar', length: 200 })
  correlationId!: string;
}
