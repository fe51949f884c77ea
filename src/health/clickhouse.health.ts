import { Inject, Injectable } from '@nestjs/common';
import { type HealthCheckAttempt, HealthIndicatorService } from '@nestjs/terminus';
import type { Logger } from 'pino';
import { ClickHouseService } from '../clickhouse/clickhouse.service.js';
import { ROOT_LOGGER } from '../common/logging/logging.module.js';
import { redactText } from '../common/logging/redact.js';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import { MetricsService } from '../metrics/metrics.service.js';

/** JWE or OAuth: ClickHouse credentials arrive with each request, so there is nothing to ping with. */
export function usesPerRequestCredentials(server: GatewayConfig['server']): boolean {
  return server.jwe.enabled || server.oauth.enabled;
}

export interface PingPolicy {
  /** Terminus indicator key; attempts with the same key share a cache. */
  key: string;
  timeoutMs: number;
  /** Reuse a result (and an in-flight ping) for this long, so a probe storm sends one ping. */
  cacheMs?: number;
}

/**
 * Pings ClickHouse with the configuration in force (read per call, so a hot reload applies to the next probe)
 * as a Terminus health indicator. Failures are logged here with the error kind only; callers decide the body.
 */
@Injectable()
export class ClickHouseHealthIndicator {
  private readonly log: Logger;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly clickhouse: ClickHouseService,
    private readonly config: ConfigService<GatewayConfig, true>,
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'health' });
  }

  ping(policy: PingPolicy): HealthCheckAttempt<string> {
    const attempt = this.indicators
      .check(policy.key)
      .attempt(async ({ signal }) => {
        const conn = this.clickhouse.connectionFromConfig(this.config.get('clickhouse', { infer: true }));
        try {
          await this.clickhouse.ping(conn, { signal, timeoutMs: policy.timeoutMs });
        } catch (err) {
          this.metrics.setClickHouseUp(false);
          const e = err as { kind?: string; code?: unknown; userMessage?: string; message?: string };
          const kind = e.kind ?? 'other';
          this.log.warn(
            { check: policy.key, kind, code: e.code, reason: redactText(String(e.userMessage ?? e.message ?? err)) },
            'ClickHouse health check failed',
          );
          // Only the kind travels further: the indicator's message never reaches a response body.
          throw new Error(kind);
        }
        this.metrics.setClickHouseUp(true);
        return {};
      })
      .withTimeout(policy.timeoutMs);
    if (policy.cacheMs) attempt.cacheFor(policy.cacheMs);
    return attempt;
  }
}
