import { type DynamicModule, Module } from '@nestjs/common';
import { ClickHouseModule } from '../../clickhouse/clickhouse.module.js';
import type { BootConfig } from '../../config/config.store.js';
import { McpModule } from '../mcp.module.js';
import { OpenApiController, OpenApiTokenController } from './openapi.controller.js';
import { OpenApiService } from './openapi.service.js';

/**
 * altinity-mcp's OpenAPI mode (GPT Actions). `server.openapi.enabled` is restart-only, so the routes exist or
 * not for the life of the process: when off, nothing is registered and `/openapi…` stays an MCP path (the
 * catch-all). AppModule must import this module before McpModule, so these routes are matched first.
 */
@Module({})
export class OpenApiModule {
  static forRoot(boot: BootConfig): DynamicModule {
    const enabled = boot.loaded.config.server.openapi.enabled;
    // `/{token}/openapi…` exists only with JWE (both keys restart-only); without it those paths stay MCP paths.
    const tokenised = enabled && boot.loaded.config.server.jwe.enabled;
    return {
      module: OpenApiModule,
      imports: enabled ? [ClickHouseModule, McpModule] : [],
      controllers: enabled ? (tokenised ? [OpenApiController, OpenApiTokenController] : [OpenApiController]) : [],
      providers: enabled ? [OpenApiService] : [],
    };
  }
}
