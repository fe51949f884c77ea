import { Module } from '@nestjs/common';
import { CatalogDiscoveryInterceptor } from './catalog-discovery.interceptor.js';
import { CatalogService } from './catalog.service.js';

/**
 * The dynamic-tool catalog cache (auth spec §4, upstream §D.2) and the interceptor that counts catalog lookups.
 * Plain classes inside (CatalogCache, key helpers); CatalogService is the one instance the MCP tools, OpenAPI and
 * `/health` share. ConfigStore and MetricsService come from their global modules.
 */
@Module({
  providers: [CatalogService, CatalogDiscoveryInterceptor],
  exports: [CatalogService, CatalogDiscoveryInterceptor],
})
export class CatalogModule {}
