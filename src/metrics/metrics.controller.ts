import { Controller, Get, NotFoundException, Res } from '@nestjs/common';
import { writeGoNotFound } from '../clusters/cluster-resolution.js';
import type { Response } from 'express';
import { ConfigStore } from '../config/config.store.js';
import { MetricsService } from './metrics.service.js';

/**
 * `/metrics` on the main listener. When metrics are off, or served on their own port, the route answers 404
 * (and so is never taken by the MCP catch-all). The metrics settings are restart-only: the boot config decides.
 */
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly config: ConfigStore,
  ) {}

  @Get('metrics')
  async scrape(@Res() res: Response): Promise<void> {
    const { enabled, port } = this.config.boot.server.metrics;
    if (!enabled || port !== 0) {
      // Multicluster has no catch-all: altinity-mcp's mux answers its plain 404 (upstream §A.2).
      if (this.config.boot.multicluster.enabled) return writeGoNotFound(res);
      throw new NotFoundException();
    }
    const { contentType, body } = await this.metrics.render();
    res.status(200).setHeader('Content-Type', contentType);
    res.end(body);
  }
}
