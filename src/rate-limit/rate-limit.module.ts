import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import { HealthController } from '../health/health.controller.js';
import { MetricsController } from '../metrics/metrics.controller.js';
import { GatewayThrottlerGuard, RATE_LIMIT_EXEMPT, RATE_LIMIT_WINDOW_MS } from './rate-limit.guard.js';

/**
 * Per-client rate limiting (`server.rate_limit.*`, ours; off by default) as a global guard, so every route is
 * limited — the MCP catch-all, SSE, OpenAPI and any route added later — except the probes and `/metrics`,
 * which orchestrators and scrapers call on their own schedule. Sliding window (no extra lockout): a client
 * gets `requests_per_minute` requests in any 60 s.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<GatewayConfig, true>) => ({
        throttlers: [
          {
            name: 'default',
            ttl: RATE_LIMIT_WINDOW_MS,
            limit: () => config.get('server.rate_limit.requests_per_minute', { infer: true }),
            blockDuration: 0,
          },
        ],
      }),
    }),
  ],
  providers: [
    { provide: RATE_LIMIT_EXEMPT, useValue: [HealthController, MetricsController] },
    { provide: APP_GUARD, useClass: GatewayThrottlerGuard },
  ],
})
export class RateLimitModule {}
