import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ClickHouseModule } from '../../../clickhouse/clickhouse.module.js';
import { OAuthGuard } from './oauth.guard.js';
import { OAuthResourceServer } from './oauth-resource-server.service.js';
import { ProtectedResourceController } from './protected-resource.controller.js';

/**
 * The resource-server side of OAuth (issue 17 item 2): the PRM document and the global guard that verifies bearers
 * on the MCP and OpenAPI surfaces (a no-op with OAuth off). It reaches ClickHouse only through ClickHouseModule (the
 * Bearer/Basic probe). With the broker on and bound tokens, `BrokerAccessTokens` comes from the broker's global
 * module; without it such tokens are refused (503), never let through.
 *
 * AppModule imports it after JweHttpModule (the JWE guard hands over to this one in JWE + OAuth mode) and before
 * RateLimitModule (budgets per verified identity) and McpModule (the PRM routes win over the MCP catch-all).
 */
@Module({
  imports: [ClickHouseModule],
  controllers: [ProtectedResourceController],
  providers: [OAuthResourceServer, { provide: APP_GUARD, useClass: OAuthGuard }],
})
export class OAuthResourceServerModule {}
