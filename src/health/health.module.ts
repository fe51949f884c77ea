import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ClickHouseModule } from '../clickhouse/clickhouse.module.js';
import { ClickHouseHealthIndicator } from './clickhouse.health.js';
import { HealthController } from './health.controller.js';

/**
 * `/health` (altinity-mcp readiness), `/livez` (liveness) and `/readyz` (cached readiness with drain state).
 * Terminus' own logger is off: failures are logged once, redacted, by ClickHouseHealthIndicator.
 */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ClickHouseModule, CatalogModule],
  controllers: [HealthController],
  providers: [ClickHouseHealthIndicator],
})
export class HealthModule {}
