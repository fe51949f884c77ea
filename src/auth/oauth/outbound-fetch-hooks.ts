import type { HostResolver, SsrfSafeFetchOptions } from './ssrf/ssrf-safe-fetcher.js';

/**
 * How the OAuth layer's SSRF-safe fetches (CIMD documents, client JWKS) resolve and dial. Production passes
 * nothing: the system resolver, public addresses only. Tests that serve a client document over HTTPS on
 * loopback pass a stub resolver and `testOnly` through `createGatewayApp(…, hooks)`; there is deliberately no
 * configuration key or environment variable that reaches this.
 */
export interface OutboundFetchHooks {
  readonly resolver?: HostResolver;
  readonly testOnly?: SsrfSafeFetchOptions['testOnly'];
}

/** Injection token of the `OutboundFetchHooks` in force (`{}` in production). */
export const OUTBOUND_FETCH_HOOKS = Symbol('OUTBOUND_FETCH_HOOKS');

/** Programmatic-only knobs of `createGatewayApp`, for tests and embedding; never set from configuration. */
export interface GatewayAppHooks {
  readonly oauthOutboundFetch?: OutboundFetchHooks;
}
