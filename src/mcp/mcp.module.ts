import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ClickHouseModule } from '../clickhouse/clickhouse.module.js';
import { McpServerFactory } from './mcp-server.factory.js';
import { McpPromptsService } from './prompts/mcp-prompts.service.js';
import { McpResourcesService } from './resources/mcp-resources.service.js';
import { DynamicToolCatalog } from './tools/dynamic-tool-catalog.js';
import { McpToolsService } from './tools/mcp-tools.service.js';
import { SchemaTools } from './tools/schema-tools.js';
import { McpHttpController } from './transports/mcp-http.controller.js';

/**
 * The MCP surface: the per-caller server factory with its tools, resources and prompts, and the HTTP/SSE
 * routes. Imported last by AppModule, because with `transport: http` its catch-all route serves every path
 * that no other controller claims (as altinity-mcp does).
 */
@Module({
  imports: [ClickHouseModule, CatalogModule],
  controllers: [McpHttpController],
  providers: [McpServerFactory, McpToolsService, DynamicToolCatalog, SchemaTools, McpResourcesService, McpPromptsService],
  exports: [McpServerFactory, DynamicToolCatalog, SchemaTools],
})
export class McpModule {}
