import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { MetricsListener } from './metrics-listener.js';
import { MetricsReloadWatch } from './metrics-reload.watch.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus metrics. MetricsService always exists (the MCP layer records tool calls through it). `/metrics`
 * is served on the main listener when `server.metrics.enabled` and `server.metrics.port` is 0, on a separate
 * listener (MetricsListener) when the port is set, and nowhere when disabled. Global so any module can record.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, MetricsListener, MetricsReloadWatch],
  exports: [MetricsService],
})
export class MetricsModule {}
