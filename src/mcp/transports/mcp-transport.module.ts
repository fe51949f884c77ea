import { type DynamicModule, Module } from '@nestjs/common';
import { CatalogModule } from '../../catalog/catalog.module.js';
import { McpModule } from '../mcp.module.js';
import { McpHttpController } from './mcp-http.controller.js';
import { MulticlusterMcpController, MulticlusterNotFoundController } from './multicluster-mcp.controller.js';

/**
 * The MCP routes for the boot configuration (the transport and `multicluster.enabled` are restart-only):
 * - single cluster: the catch-all of altinity-mcp — with `transport: http` every path no other controller claims
 *   serves stateless streamable HTTP; with `sse`, `/sse`;
 * - multicluster: `/mcp/{cluster}` and its subtree, and Go's `404 page not found` for every other path.
 * Imported last by AppModule, so every literal route of the other modules is matched first.
 */
@Module({})
export class McpTransportModule {
  static forRoot(options: { multicluster: boolean }): DynamicModule {
    return {
      module: McpTransportModule,
      // CatalogModule: the controllers' discovery interceptor reads the catalog service.
      imports: [McpModule, CatalogModule],
      controllers: options.multicluster ? [MulticlusterMcpController, MulticlusterNotFoundController] : [McpHttpController],
    };
  }
}
