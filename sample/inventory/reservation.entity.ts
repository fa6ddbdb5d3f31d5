import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('sample_reservations')
export class Reservation {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  orderId!: string;

  /** Correlation and causation of the event that caused this row (to show they travel). */
  @Column({ type: 'varchar', length: 200 })
  correlationId!: string;

  @Column({ type: 'varchar', length: 200 })
  causationId!: string;
}
