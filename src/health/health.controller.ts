import { All, Controller, Get, Optional, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { type HealthCheckResult, HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import type { Request, Response } from 'express';
import { CatalogService } from '../catalog/catalog.service.js';
import { ShutdownState } from '../common/shutdown/shutdown.state.js';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { GATEWAY_VERSION } from '../version.js';
import { ClickHouseHealthIndicator, usesPerRequestCredentials } from './clickhouse.health.js';
import { rfc3339Now, sendEmpty405, sendGoJson } from './health-response.js';

/** altinity-mcp's `/health` ping timeout. */
const HEALTH_TIMEOUT_MS = 5000;
/**
 * `/readyz` reuses a ping result (and shares an in-flight ping) this long, so a probe storm sends about one
 * ping a second. Worst case, readiness reflects a dead or hung ClickHouse after CACHE + TIMEOUT = 1.5 s.
 */
const READY_CACHE_MS = 800;
const READY_TIMEOUT_MS = 700;

/**
 * Probes. `/health` and `/livez` reproduce altinity-mcp byte for byte (GET only, 405 with an empty body
 * otherwise, Go-style JSON); `/readyz` is ours: cached ping, and 503 `shutting_down` while draining.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly clickhouse: ClickHouseHealthIndicator,
    private readonly config: ConfigService<GatewayConfig, true>,
    private readonly shutdown: ShutdownState,
    private readonly metrics: MetricsService,
    @Optional() private readonly catalog?: CatalogService,
  ) {}

  @Get('livez')
  livez(@Req() req: Request, @Res() res: Response): void {
    if (req.method !== 'GET') return sendEmpty405(res); // HEAD reaches GET routes in Express; Go answers 405
    sendGoJson(res, 200, { status: 'alive', timestamp: rfc3339Now(), version: GATEWAY_VERSION });
  }

  @All('livez')
  livezOtherMethods(@Res() res: Response): void {
    sendEmpty405(res);
  }

  @Get('health')
  async healthCheck(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (req.method !== 'GET') return sendEmpty405(res);
    // Multicluster mode only (auth spec §4.4): the catalog cache's counters, in every /health answer.
    const catalogCache = this.catalog?.healthSnapshot();
    const base = { timestamp: rfc3339Now(), version: GATEWAY_VERSION, ...(catalogCache ? { catalog_cache: { ...catalogCache } } : {}) };
    if (this.shutdown.shuttingDown) {
      // Not in altinity-mcp (it has no drain): the Helm chart's readiness probe is /health, so it must fail too.
      return sendGoJson(res, 503, { error: 'server shutting down', status: 'unhealthy', ...base });
    }
    // altinity_mcp_clickhouse_up follows /health only, as upstream's does (not /readyz, not the startup ping).
    if (usesPerRequestCredentials(this.config.get('server', { infer: true }))) {
      this.metrics.observeHealth('unknown');
      return sendGoJson(res, 200, { auth: 'per_request_credentials', status: 'healthy', ...base });
    }
    const result = await this.run([() => this.clickhouse.ping({ key: 'clickhouse', timeoutMs: HEALTH_TIMEOUT_MS })]);
    this.metrics.observeHealth(result.status === 'ok' ? 'ok' : 'error');
    if (result.status === 'ok') return sendGoJson(res, 200, { clickhouse: 'connected', status: 'healthy', ...base });
    sendGoJson(res, 503, { error: 'ClickHouse connection failed', status: 'unhealthy', ...base });
  }

  @All('health')
  healthOtherMethods(@Res() res: Response): void {
    sendEmpty405(res);
  }

  @Get('readyz')
  async readyz(@Req() req: Request, @Res() res: Response): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendEmpty405(res);
    const base = { timestamp: rfc3339Now(), version: GATEWAY_VERSION };
    if (this.shutdown.shuttingDown) return sendGoJson(res, 503, { reason: 'shutting_down', status: 'not_ready', ...base });
    if (usesPerRequestCredentials(this.config.get('server', { infer: true }))) {
      return sendGoJson(res, 200, { auth: 'per_request_credentials', status: 'ready', ...base });
    }
    const result = await this.run([
      () => this.clickhouse.ping({ key: 'clickhouse_readiness', timeoutMs: READY_TIMEOUT_MS, cacheMs: READY_CACHE_MS }),
    ]);
    if (this.shutdown.shuttingDown || result.status === 'shutting_down') {
      return sendGoJson(res, 503, { reason: 'shutting_down', status: 'not_ready', ...base });
    }
    if (result.status === 'ok') return sendGoJson(res, 200, { clickhouse: 'connected', status: 'ready', ...base });
    sendGoJson(res, 503, { reason: 'clickhouse_unreachable', status: 'not_ready', ...base });
  }

  @All('readyz')
  readyzOtherMethods(@Res() res: Response): void {
    sendEmpty405(res);
  }

  /** Terminus throws a 503 carrying the result when a check is down; we want the result either way. */
  private async run(indicators: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    try {
      return await this.health.check(indicators);
    } catch (err) {
      if (err instanceof ServiceUnavailableException) return err.getResponse() as HealthCheckResult;
      throw err;
    }
  }
}
