import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { ClickHouseService } from '../../../clickhouse/clickhouse.service.js';
import { normalizeHost } from '../../../clickhouse/connection-spec.js';
import type { CallerIdentity } from '../../../common/request-context.js';
import { ConfigStore } from '../../../config/config.store.js';
import type { GatewayConfig, OAuthConfig } from '../../../config/config.types.js';
import { VerifiedTokenCache } from '../../jwe/verified-token-cache.js';
import { AuthMethodCache, type AuthMethodCacheOptions } from '../clickhouse-identity/auth-method-cache.js';
import { ClickHouseIdentityResolver, type ClickHouseIdentity } from '../clickhouse-identity/clickhouse-identity.js';
import { clickHouseConnectionProbe } from '../clickhouse-identity/clickhouse-probe.js';
import { type AcceptedBearer, BrokerAccessTokens, type BearerVerdict } from '../oauth-bearer.js';
import { BearerVerifier, type BearerVerifierOptions } from './bearer-verifier.js';
import {
  canonicalResourceUrl,
  protectedResourceMetadataUrl,
  resourceBaseUrl,
  type PublicRequestView,
  type PublicServerView,
} from './public-urls.js';

/**
 * The resource-server side of OAuth at run time: which verifier vouches for a bearer under the configuration in
 * force, and which ClickHouse identity an accepted bearer gets. The guard (`OAuthGuard`) turns the answers into
 * HTTP; this class never writes a response and never logs a token.
 *
 * Verifier and identity resolver are rebuilt when the keys they read change (a hot reload), so a new issuer or
 * role filter applies to the next request; the per-endpoint method cache starts afresh with them, as in
 * altinity-mcp, where a reload builds a new server object.
 */

/** Longer bearers are refused as malformed without parsing (Node's header limit is 16 KiB anyway). */
export const MAX_BEARER_LENGTH = 16 * 1024;

/** `misconfigured`: the configuration cannot verify this kind of token (e.g. broker tokens without the broker). */
export type ResourceServerVerdict = BearerVerdict | { ok: false; reason: 'misconfigured'; message: string };

/** Programmatic knobs (tests); production passes none. */
export interface OAuthResourceServerOptions {
  verifier?: Partial<Pick<BearerVerifierOptions, 'fetcher' | 'now' | 'clockToleranceSeconds' | 'unknownKidCooldownMs'>>;
  methodCache?: AuthMethodCacheOptions;
  /** How long a verified bearer is trusted without re-verifying (ms; never past its `exp`). */
  verifiedTtlMs?: number;
  now?: () => number;
  /** How long a Bearer/Basic probe ping may take (ms). */
  probeTimeoutMs?: number;
}

export const OAUTH_RESOURCE_SERVER_OPTIONS = Symbol('OAUTH_RESOURCE_SERVER_OPTIONS');

const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

export function requestView(req: IncomingMessage & { path?: string }): PublicRequestView {
  const host = req.headers.host;
  return {
    host: typeof host === 'string' ? host : undefined,
    encrypted: Boolean((req.socket as TLSSocket | undefined)?.encrypted),
    path: req.path ?? new URL(req.url ?? '/', 'http://x').pathname,
  };
}

export function serverView(server: GatewayConfig['server']): PublicServerView {
  return { address: server.address, port: server.port, tlsEnabled: server.tls.enabled, openapiTls: server.openapi.tls };
}

/**
 * The bearer of `Authorization: Bearer <token>`: the remainder after the case-sensitive prefix, as altinity-mcp
 * reads it (no trimming). `undefined` for no header, another scheme, or an empty remainder.
 */
export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined;
  const token = header.slice('Bearer '.length);
  return token === '' ? undefined : token;
}

/** A per-identity cache key: a hash of the credential, so caches never mix callers and never hold a token. */
export function oauthIdentity(token: string, accepted: AcceptedBearer): CallerIdentity {
  const digest = createHash('sha256').update(token).digest('base64url').slice(0, 32);
  return { kind: 'oauth', cacheKey: `oauth:${digest}`, ...(accepted.subject ? { subject: accepted.subject } : {}) };
}

@Injectable()
export class OAuthResourceServer {
  private verifierMemo: { key: string; verifier: BearerVerifier | Error } | undefined;
  private identityMemo: { key: string; resolver: ClickHouseIdentityResolver } | undefined;
  private readonly options: OAuthResourceServerOptions;
  /**
   * Bearers the issuer's keys already vouched for, keyed by a hash of the token: a client sends the same token on
   * every request, and a signature check per request would be most of the OAuth cost. An entry lives at most a
   * minute (a key the issuer withdraws stops working within that) and never past the token's `exp`; the cache is
   * dropped when the verifying configuration changes. Refusals are not cached (they must not evict good entries).
   */
  private readonly verified: VerifiedTokenCache<AcceptedBearer>;
  private readonly now: () => number;

  constructor(
    private readonly config: ConfigStore,
    private readonly clickhouse: ClickHouseService,
    @Optional() private readonly brokerTokens?: BrokerAccessTokens,
    @Optional() @Inject(OAUTH_RESOURCE_SERVER_OPTIONS) options?: OAuthResourceServerOptions,
  ) {
    this.options = options ?? {};
    this.verified = new VerifiedTokenCache<AcceptedBearer>(1024, this.options.verifiedTtlMs ?? 60_000);
    this.now = this.options.now ?? Date.now;
  }

  get oauth(): OAuthConfig {
    return this.config.current.server.oauth;
  }

  /** The `resource_metadata=` URL of a challenge for this request. */
  resourceMetadataUrl(req: IncomingMessage & { path?: string }): string {
    const { server } = this.config.current;
    return protectedResourceMetadataUrl(requestView(req), serverView(server), server.oauth);
  }

  /** Who vouches for the bearer (spec §2.1): the broker for its own bound tokens, else the issuer's JWKS. */
  async verify(token: string, req: IncomingMessage & { path?: string }): Promise<ResourceServerVerdict> {
    if (token.length > MAX_BEARER_LENGTH) return { ok: false, reason: 'malformed' };
    const { server } = this.config.current;
    const oauth = server.oauth;
    if (oauth.broker && oauth.issued_tokens === 'bound') {
      if (!this.brokerTokens) {
        return { ok: false, reason: 'misconfigured', message: 'OAuth broker tokens cannot be verified: the broker is not part of this build' };
      }
      // The audience a bound token must carry is this resource, canonical form (trailing `/`).
      const resource = canonicalResourceUrl(resourceBaseUrl(requestView(req), serverView(server), oauth));
      try {
        return await this.brokerTokens.verify(token, resource);
      } catch {
        return { ok: false, reason: 'malformed' };
      }
    }
    const verifier = this.verifier(oauth);
    if (verifier instanceof Error) return { ok: false, reason: 'misconfigured', message: verifier.message };
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.verified.get(key, this.now());
    if (cached) return cached;
    const verification = await verifier.verify(token);
    if (!verification.ok) return verification;
    if (verification.kind === 'opaque') {
      // Not cached: nothing was verified, ClickHouse judges it on every query.
      return { ok: true, kind: 'opaque', clickhouseToken: token, claims: {}, scopes: [] };
    }
    const claims = verification.claims as Record<string, unknown>;
    const accepted: AcceptedBearer = {
      ok: true,
      kind: 'jwt',
      clickhouseToken: token,
      claims,
      scopes: verification.scopes,
      subject: printableSubject(claims),
      ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp } : {}),
    };
    this.verified.set(key, accepted, this.now(), accepted.expiresAt);
    return accepted;
  }

  /** The ClickHouse credentials of an accepted bearer (spec §2.12), probing the endpoint's method when unknown. */
  identity(accepted: AcceptedBearer): Promise<ClickHouseIdentity> {
    const clickhouse = this.config.current.clickhouse;
    return this.resolver().resolve(
      // Verified claims for a JWT or a bound token; an opaque token has none (read unverified, which finds none).
      { raw: accepted.clickhouseToken, ...(accepted.kind === 'opaque' ? {} : { claims: accepted.claims }) },
      { host: normalizeHost(clickhouse.host), port: clickhouse.port, protocol: clickhouse.protocol },
    );
  }

  private verifier(oauth: OAuthConfig): BearerVerifier | Error {
    const upstreamTokens = oauth.broker; // only reached with `issued_tokens: upstream` when the broker is on
    const key = JSON.stringify([
      oauth.issuer,
      oauth.jwks_url,
      oauth.audience,
      oauth.public_resource_url,
      oauth.required_scopes,
      oauth.jwks_cache_ttl,
      oauth.allow_opaque_tokens,
      upstreamTokens,
      oauth.client_id,
    ]);
    if (this.verifierMemo?.key === key) return this.verifierMemo.verifier;
    this.verified.clear();
    let verifier: BearerVerifier | Error;
    try {
      verifier = new BearerVerifier({
        oauth,
        allowOpaqueTokens: oauth.allow_opaque_tokens,
        // The raw upstream token was issued for the upstream client (or the API audience), not for this URL.
        ...(upstreamTokens ? { audiences: [oauth.audience.trim() !== '' ? oauth.audience : oauth.client_id] } : {}),
        ...this.options.verifier,
      });
    } catch (err) {
      verifier = err instanceof Error ? err : new Error(String(err));
    }
    this.verifierMemo = { key, verifier };
    return verifier;
  }

  private resolver(): ClickHouseIdentityResolver {
    const { clickhouse, server } = this.config.current;
    const key = JSON.stringify([
      server.oauth.role_claim,
      server.oauth.role_filter,
      server.oauth.username_claim,
      clickhouse.host,
      clickhouse.port,
      clickhouse.protocol,
      clickhouse.tls.enabled,
    ]);
    if (this.identityMemo?.key === key) return this.identityMemo.resolver;
    const probe = clickHouseConnectionProbe(
      this.clickhouse,
      () => this.config.current.clickhouse,
      this.options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    );
    const resolver = new ClickHouseIdentityResolver(
      { roleClaim: server.oauth.role_claim, roleFilter: server.oauth.role_filter, usernameClaim: server.oauth.username_claim },
      probe,
      new AuthMethodCache(this.options.methodCache),
    );
    this.identityMemo = { key, resolver };
    return resolver;
  }
}

/** `sub`, else `email`: for logs only, and only when printable and short. */
function printableSubject(claims: Record<string, unknown>): string | undefined {
  for (const value of [claims.sub, claims.email]) {
    if (typeof value === 'string' && value !== '' && value.length <= 256 && /^[\x20-\x7e]+$/.test(value)) return value;
  }
  return undefined;
}
