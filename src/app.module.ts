import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { JweHttpModule } from './auth/jwe/jwe-http.module.js';
import { BrokerModule, loadBrokerRoutes } from './auth/oauth/broker/broker.module.js';
import { OAuthResourceServerModule } from './auth/oauth/resource-server/oauth-resource-server.module.js';
import { type GatewayAppHooks, OUTBOUND_FETCH_HOOKS } from './auth/oauth/outbound-fetch-hooks.js';
import { ClickHouseModule } from './clickhouse/clickhouse.module.js';
import { EventsModule } from './common/events/events.module.js';
import { HttpPipelineModule } from './common/http/http-pipeline.module.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { ShutdownModule } from './common/shutdown/shutdown.module.js';
import { ConfigModule } from './config/config.module.js';
import type { BootConfig } from './config/config.store.js';
import { HealthModule } from './health/health.module.js';
import { ClustersModule } from './clusters/clusters.module.js';
import { McpTransportModule } from './mcp/transports/mcp-transport.module.js';
import { OpenApiModule } from './mcp/openapi/openapi.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';

/**
 * The only place that wires capabilities together. Arrows point one way: config is a leaf, the ClickHouse
 * module knows no protocol, and only this module (through McpTransportModule) exposes transports.
 */
/** The programmatic hooks of `createGatewayApp` (empty in production), for the modules that honour them. */
@Global()
@Module({})
class GatewayHooksModule {
  static forRoot(hooks: GatewayAppHooks): DynamicModule {
    return {
      module: GatewayHooksModule,
      providers: [{ provide: OUTBOUND_FETCH_HOOKS, useValue: hooks.oauthOutboundFetch ?? {} }],
      exports: [OUTBOUND_FETCH_HOOKS],
    };
  }
}

@Module({})
export class AppModule {
  /** Async only to load optional parts (the OAuth broker) on demand; Nest accepts a promised root module. */
  static async forRoot(boot: BootConfig, logger: Logger, hooks: GatewayAppHooks = {}): Promise<DynamicModule> {
    const brokerRoutes = await loadBrokerRoutes(boot);
    return {
      module: AppModule,
      imports: [
        GatewayHooksModule.forRoot(hooks),
        ConfigModule.forRoot(boot),
        LoggingModule.forRoot(logger),
        HttpPipelineModule,
        EventsModule,
        ShutdownModule,
        MetricsModule,
        ClickHouseModule,
        HealthModule,
        // Before RateLimitModule: its global guard must run first (per-token budgets); its literal route
        // (/jwe-token-generator) is registered ahead of the MCP catch-all.
        JweHttpModule,
        // Multicluster (empty when off): before OAuthResourceServerModule, whose path-aware PRM route would
        // otherwise take `/.well-known/oauth-protected-resource/mcp/{cluster}`, and before the MCP routes.
        ClustersModule.forRoot(boot),
        // After JweHttpModule: in JWE + OAuth mode the JWE guard hands its finding to the OAuth guard. Before
        // RateLimitModule (budgets per verified identity) and McpModule (the PRM routes beat the catch-all).
        OAuthResourceServerModule,
        RateLimitModule,
        // Before McpModule and OpenApiModule: the broker's literal routes must be matched ahead of the MCP catch-all.
        BrokerModule.forRoot(boot, brokerRoutes),
        // Before McpModule: its routes must be matched ahead of the MCP catch-all.
        OpenApiModule.forRoot(boot),
        McpTransportModule.forRoot({ multicluster: boot.loaded.config.multicluster.enabled }),
      ],
    };
  }
}
