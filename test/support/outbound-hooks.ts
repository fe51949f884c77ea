import type { GatewayAppHooks } from '../../src/auth/oauth/outbound-fetch-hooks.js';
import type { HostResolver } from '../../src/auth/oauth/ssrf/ssrf-safe-fetcher.js';

/**
 * Test support: the outbound-fetch hooks of the gateway (`GatewayAppHooks`) in a JSON-safe form, so the same
 * stub DNS + `testOnly` settings reach an in-process gateway (`startGateway(flags, env, hooks)`) and a gateway
 * child process (`startGatewayProcess`, whose launcher rebuilds the resolver from this JSON).
 */
export interface SerializedOutboundHooks {
  /** Stub DNS: name (lower case) → the addresses it resolves to. Any other name fails to resolve. */
  readonly hosts: Readonly<Record<string, readonly string[]>>;
  readonly testOnly?: { readonly allowLoopback: true; readonly connectPort?: number; readonly trustedCa?: string };
}

/** A resolver answering only the given names (no real DNS is ever asked). */
export function stubResolver(hosts: SerializedOutboundHooks['hosts']): HostResolver {
  return async (hostname) => {
    const answers = hosts[hostname.toLowerCase()];
    if (!answers) throw Object.assign(new Error(`stub resolver: ${hostname} is unknown`), { code: 'ENOTFOUND' });
    return [...answers];
  };
}

export function gatewayHooksFrom(serialized: SerializedOutboundHooks): GatewayAppHooks {
  return { oauthOutboundFetch: { resolver: stubResolver(serialized.hosts), ...(serialized.testOnly ? { testOnly: serialized.testOnly } : {}) } };
}
