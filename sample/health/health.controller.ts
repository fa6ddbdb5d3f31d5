import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { MessagingHealthIndicator, MessagingMonitor, type MessagingSnapshot } from '../../lib';

/** `GET /health` (terminus: 200 up / 503 down) and `GET /health/messaging` (the full monitoring snapshot). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly messaging: MessagingHealthIndicator,
    private readonly monitor: MessagingMonitor,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.messaging.isHealthy('messaging')]);
  }

  @Get('messaging')
  snapshot(): Promise<MessagingSnapshot> {
    return this.monitor.snapshot();
  }
}
