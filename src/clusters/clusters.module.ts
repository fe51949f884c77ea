import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import type { BootConfig } from '../config/config.store.js';
import { ClusterPrmController } from './cluster-prm.controller.js';
import { ClusterRouter } from './cluster-router.js';
import { ClusterRoutingMiddleware } from './cluster-routing.middleware.js';

/**
 * Multicluster routing (issue 18): the cluster router built from the boot configuration, the middleware that
 * resolves `/mcp/{cluster}` ahead of authentication, and the per-cluster PRM routes. Empty when
 * `multicluster.enabled` is off at boot (the setting is restart-only).
 *
 * AppModule imports it before the OAuth resource-server module (its PRM routes beat the root PRM controller's
 * path-aware route) and before McpModule (they beat `/mcp/{cluster}/…`).
 */
@Module({})
export class ClustersModule {
  static forRoot(boot: BootConfig): DynamicModule {
    const config = boot.loaded.config;
    if (!config.multicluster.enabled) return { module: ClustersModule };
    return {
      module: MulticlusterRoutingModule,
      controllers: [ClusterPrmController],
      providers: [{ provide: ClusterRouter, useValue: new ClusterRouter(config) }, ClusterRoutingMiddleware],
      exports: [ClusterRouter],
    };
  }
}

/** The module ClustersModule.forRoot returns when multicluster is on: its middleware needs the router. */
@Module({})
class MulticlusterRoutingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ClusterRoutingMiddleware).forRoutes({ path: 'mcp/{*rest}', method: RequestMethod.ALL });
  }
}
