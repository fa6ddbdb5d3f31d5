import 'reflect-metadata';

/**
 * Apps without prom-client, @nestjs/terminus or @opentelemetry/api: each is made unresolvable
 * (as when not installed) in a fresh module registry, then the library is loaded and used.
 */
describe('without the optional peer dependencies installed', () => {
  it('monitors, reports health and traces nothing, without failing', async () => {
    const missing = (name: string) => () => {
      const err = new Error(`Cannot find module '${name}'`) as Error & { code: string };
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    };
    jest.doMock('prom-client', missing('prom-client'));
    jest.doMock('@nestjs/terminus', missing('@nestjs/terminus'));
    jest.doMock('@opentelemetry/api', missing('@opentelemetry/api'));
    await jest.isolateModulesAsync(async () => {
      const { compileMonitoredModule } = await import('./monitoring-app.helper');
      const { MessagingMetrics } = await import('../../lib/monitoring/prometheus/messaging-metrics.service');
      const { MessagingHealthIndicator } = await import('../../lib/monitoring/health/messaging-health.indicator');
      const { MessagingTracing } = await import('../../lib/tracing/messaging-tracing.service');
      const { MessagingMonitor } = await import('../../lib/monitoring/messaging-monitor.service');
      const moduleRef = await compileMonitoredModule([]);
      await moduleRef.init();
      try {
        const metrics = moduleRef.get(MessagingMetrics);
        expect(metrics.enabled).toBe(false);
        expect(await metrics.metrics()).toBe('');
        const tracing = moduleRef.get(MessagingTracing);
        expect(tracing.enabled).toBe(false);
        expect(tracing.consumeWrapper).toBeUndefined();
        expect(tracing.traceparent()).toBeUndefined();
        const health = await moduleRef.get(MessagingHealthIndicator).isHealthy();
        expect(health).toEqual({ messaging: { status: 'up', transport: 'memory', connected: true, deadLetters: 0 } });
        expect((await moduleRef.get(MessagingMonitor).snapshot()).transport.connected).toBe(true);
      } finally {
        await moduleRef.close();
      }
    });
    jest.dontMock('prom-client');
    jest.dontMock('@nestjs/terminus');
    jest.dontMock('@opentelemetry/api');
  });
});
