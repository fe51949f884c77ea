import type { Provider, Type } from '@nestjs/common';
import { ConfigStore } from '../../../config/config.store.js';
import type { OAuthConfig } from '../../../config/config.types.js';
import { createCimdFetcher, CimdResolver } from '../cimd/cimd-resolver.js';
import { ClientAssertionVerifier } from '../client-assertion/client-assertion.js';
import { JwksCache, createJwksFetcher } from '../client-assertion/jwks-cache.js';
import { OUTBOUND_FETCH_HOOKS, type OutboundFetchHooks } from '../outbound-fetch-hooks.js';
import { BrokerMetrics } from './broker-metrics.js';
import { DEFAULT_AUTHORIZATION_PATH, DEFAULT_CALLBACK_PATH, DEFAULT_TOKEN_PATH, brokerPaths } from './broker-paths.js';
import { BrokerThrottlerGuard } from './broker-throttler.guard.js';
import { BrokerMetadataController, createBrokerEndpointsController } from './broker.controllers.js';
import { BrokerService } from './broker.service.js';
import { UpstreamIdp } from './upstream-idp.js';

export interface BrokerRoutes {
  controllers: Type[];
  providers: Provider[];
}

/** The broker's controllers and services (loaded by `loadBrokerRoutes` only when the broker is on at boot). */
export function brokerRoutes(oauth: OAuthConfig): BrokerRoutes {
  const configured = brokerPaths(oauth);
  // The configured path and Go's default both answer (§2.5).
  const both = (path: string, fallback: string) => [...new Set([path, fallback])];
  const endpoints = createBrokerEndpointsController({
    authorize: both(configured.authorize, DEFAULT_AUTHORIZATION_PATH),
    callback: both(configured.callback, DEFAULT_CALLBACK_PATH),
    token: both(configured.token, DEFAULT_TOKEN_PATH),
  });
  return {
    controllers: [BrokerMetadataController, endpoints],
    providers: [
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
  };
}
