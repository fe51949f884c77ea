import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { ClickHouseModule } from '../clickhouse/clickhouse.module.js';
import { McpServerFactory } from './mcp-server.factory.js';
import { McpPromptsService } from './prompts/mcp-prompts.service.js';
import { McpResourcesService } from './resources/mcp-resources.service.js';
import { DynamicToolCatalog } from './tools/dynamic-tool-catalog.js';
import { McpToolsService } from './tools/mcp-tools.service.js';
import { SchemaTools } from './tools/schema-tools.js';

/**
 * The MCP surface: the per-caller server factory with its tools, resources and prompts. Its HTTP/SSE routes live
 * in McpTransportModule (imported last by AppModule), which picks them for the boot configuration.
 */
@Module({
  imports: [ClickHouseModule, CatalogModule],
  providers: [McpServerFactory, McpToolsService, DynamicToolCatalog, SchemaTools, McpResourcesService, McpPromptsService],
  exports: [McpServerFactory, DynamicToolCatalog, SchemaTools],
})
export class McpModule {}
