import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('sample_orders')
export class Order {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  customerId!: string;

  @Column({ type: 'integer' })
  totalAmount!: number;

  @CreateDateColumn()
  createdAt!: Date;
}
