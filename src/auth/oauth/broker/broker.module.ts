import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import type { BootConfig } from '../../../config/config.store.js';
import { BrokerAccessTokens } from '../oauth-bearer.js';
import { BoundAccessTokens } from './bound-tokens.js';
import { BrokerOffController } from './broker-off.controller.js';
import type { BrokerRoutes } from './broker-routes.js';

/**
 * The OAuth broker (issue 17 part B): AS metadata, CIMD clients, /authorize (+ consent), /callback, /token, and
 * the verifier of the bound access tokens it issues (`BrokerAccessTokens`, global, for the resource-server guard).
 * `oauth.enabled` and `oauth.broker` are restart-only: with either off, only the 404 answers are registered.
 * AppModule imports it before McpModule and the OpenAPI module, so these literal routes win over the catch-all.
 */
@Global()
@Module({})
export class BrokerModule {
  /**
   * `routes` is the broker itself (`loadBrokerRoutes`), passed in when the broker is on at boot: loaded by the
   * caller with a dynamic import, so a gateway without the broker never loads its services (upstream client,
   * CIMD, consent, DTOs). Off: the 404 controller and the bound-token verifier only.
   */
  static forRoot(boot: BootConfig, routes?: BrokerRoutes): DynamicModule {
    const oauth = boot.loaded.config.server.oauth;
    const tokens: Provider = { provide: BrokerAccessTokens, useClass: BoundAccessTokens };
    if (!oauth.enabled || !oauth.broker || !routes) {
      return { module: BrokerModule, controllers: [BrokerOffController], providers: [tokens], exports: [BrokerAccessTokens] };
    }
    return { module: BrokerModule, controllers: routes.controllers, providers: [tokens, ...routes.providers], exports: [BrokerAccessTokens] };
  }
}

/** The broker's routes and services for this boot, or undefined when the broker is off (nothing is loaded then). */
export async function loadBrokerRoutes(boot: BootConfig): Promise<BrokerRoutes | undefined> {
  const oauth = boot.loaded.config.server.oauth;
  if (!oauth.enabled || !oauth.broker) return undefined;
  const { brokerRoutes } = await import('./broker-routes.js');
  return brokerRoutes(oauth);
}
