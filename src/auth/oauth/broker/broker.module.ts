import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigStore } from '../../../config/config.store.js';
import type { BootConfig } from '../../../config/config.store.js';
import { createCimdFetcher, CimdResolver } from '../cimd/cimd-resolver.js';
import { ClientAssertionVerifier } from '../client-assertion/client-assertion.js';
import { JwksCache, createJwksFetcher } from '../client-assertion/jwks-cache.js';
import { BrokerAccessTokens } from '../oauth-bearer.js';
import { OUTBOUND_FETCH_HOOKS, type OutboundFetchHooks } from '../outbound-fetch-hooks.js';
import { BoundAccessTokens } from './bound-tokens.js';
import { BrokerMetrics } from './broker-metrics.js';
import { BrokerThrottlerGuard } from './broker-throttler.guard.js';
import { BrokerMetadataController, BrokerOffController, createBrokerEndpointsController } from './broker.controllers.js';
import { BrokerService, DEFAULT_AUTHORIZATION_PATH, DEFAULT_CALLBACK_PATH, DEFAULT_TOKEN_PATH, brokerPaths } from './broker.service.js';
import { UpstreamIdp } from './upstream-idp.js';

/**
 * The OAuth broker (issue 17 part B): AS metadata, CIMD clients, /authorize (+ consent), /callback, /token, and
 * the verifier of the bound access tokens it issues (`BrokerAccessTokens`, global, for the resource-server guard).
 * `oauth.enabled` and `oauth.broker` are restart-only: with either off, only the 404 answers are registered.
 * AppModule imports it before McpModule and the OpenAPI module, so these literal routes win over the catch-all.
 */
@Global()
@Module({})
export class BrokerModule {
  static forRoot(boot: BootConfig): DynamicModule {
    const oauth = boot.loaded.config.server.oauth;
    const tokens = { provide: BrokerAccessTokens, useClass: BoundAccessTokens };
    if (!oauth.enabled || !oauth.broker) {
      return { module: BrokerModule, controllers: [BrokerOffController], providers: [tokens], exports: [BrokerAccessTokens] };
    }
    const configured = brokerPaths(oauth);
    const both = (path: string, fallback: string) => [...new Set([path, fallback])];
    const endpoints = createBrokerEndpointsController({
      authorize: both(configured.authorize, DEFAULT_AUTHORIZATION_PATH),
      callback: both(configured.callback, DEFAULT_CALLBACK_PATH),
      token: both(configured.token, DEFAULT_TOKEN_PATH),
    });
    return {
      module: BrokerModule,
      controllers: [BrokerMetadataController, endpoints],
      providers: [
        tokens,
        BrokerMetrics,
        BrokerService,
        {
          // The SSRF-safe fetchers take the test hooks (a stub resolver, loopback TLS); `{}` in production.
          provide: CimdResolver,
          inject: [OUTBOUND_FETCH_HOOKS],
          useFactory: (hooks: OutboundFetchHooks) => new CimdResolver({ fetcher: createCimdFetcher(hooks) }),
        },
        {
          provide: ClientAssertionVerifier,
          inject: [OUTBOUND_FETCH_HOOKS],
          useFactory: (hooks: OutboundFetchHooks) => new ClientAssertionVerifier({ jwks: new JwksCache({ fetcher: createJwksFetcher(hooks) }) }),
        },
        {
          provide: UpstreamIdp,
          inject: [ConfigStore],
          useFactory: (config: ConfigStore) => new UpstreamIdp(() => config.current.server.oauth),
        },
        BrokerThrottlerGuard,
      ],
      exports: [BrokerAccessTokens],
    };
  }
}
