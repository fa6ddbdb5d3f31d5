import { Controller, Get, Header, Res } from '@nestjs/common';
import { MessagingMetrics } from './messaging-metrics.service';

/** The minimal response surface used (Express and Fastify replies both have it). */
interface ReplyLike {
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
  send(body: string): unknown;
}

/**
 * `GET /metrics` in the Prometheus text format. Opt in by adding it to a module's `controllers`
 * (it needs `MessagingMetrics`, provided by `MessagingModule`). Serves the whole registry.
 */
@Controller('metrics')
export class MessagingMetricsController {
  constructor(private readonly metrics: MessagingMetrics) {}

  /** The text exposition. */
  @Get()
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: ReplyLike): Promise<void> {
    const body = await this.metrics.metrics();
    const type = this.metrics.contentType;
    if (res.setHeader) res.setHeader('Content-Type', type);
    else res.header?.('Content-Type', type);
    res.send(body);
  }
}
