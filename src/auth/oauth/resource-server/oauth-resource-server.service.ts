import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { bearerExp, catalogKey, credentialCatalogKey } from '../../../catalog/catalog-key.js';
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
/** Identity resolvers (one per ClickHouse endpoint) kept at once. */
const MAX_IDENTITY_RESOLVERS = 256;
/** Endpoints whose identity is remembered per verified token. */
const MAX_ENDPOINTS_PER_TOKEN = 16;

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

/**
 * A caller identity from a token: per-identity caches are keyed by a hash of the token, never the token. With the
 * raw token at hand the catalog keys are added (upstream D.2 single-cluster key, auth §4.1 multicluster key), and
 * the expiry that bounds a cached catalog (the verified `exp`, else the unverified one as altinity-mcp reads it).
 */
export function oauthIdentity(tokenDigest: string, accepted: AcceptedBearer, token?: string): CallerIdentity {
  const expiresAt = accepted.expiresAt ?? (token === undefined ? undefined : bearerExp(token));
  return Object.freeze({
    kind: 'oauth',
    cacheKey: `oauth:${tokenDigest.slice(0, 32)}`,
    ...(accepted.subject ? { subject: accepted.subject } : {}),
    ...(token === undefined ? {} : { catalogKey: credentialCatalogKey('oauth', token), bearerCatalogKey: catalogKey(token) }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });
}

/** The digest `oauthIdentity` takes. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

@Injectable()
export class OAuthResourceServer {
  private verifierMemo: { key: string; source: OAuthConfig; verifier: BearerVerifier | Error } | undefined;
  /**
   * Identity resolvers by ClickHouse endpoint (`host:port`): one per cluster host in multicluster mode, so each
   * host's Bearer/Basic method is probed and cached on its own.
   */
  private readonly identityMemos = new Map<string, { key: string; source: readonly [OAuthConfig, GatewayConfig['clickhouse']]; resolver: ClickHouseIdentityResolver }>();
  private readonly options: OAuthResourceServerOptions;
  /**
   * Bearers the issuer's keys already vouched for, keyed by a hash of the token: a client sends the same token on
   * every request, and a signature check per request would be most of the OAuth cost. An entry lives at most a
   * minute (a key the issuer withdraws stops working within that) and never past the token's `exp`; the cache is
   * dropped when the verifying configuration changes. Refusals are not cached (they must not evict good entries).
   */
  private readonly verified: VerifiedTokenCache<AcceptedBearer>;
  /** Per verified-token verdict (the cached object): its caller identity and ClickHouse identity. */
  private boundSource: OAuthConfig | undefined;
  private readonly callers = new WeakMap<AcceptedBearer, CallerIdentity>();
  private readonly sessions = new WeakMap<
    AcceptedBearer,
    Map<string, { resolver: ClickHouseIdentityResolver; identity: Extract<ClickHouseIdentity, { ok: true }>; reused: Extract<ClickHouseIdentity, { ok: true }> }>
  >();
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

  /**
   * The `resource_metadata=` URL of a challenge for this request; with a `cluster` (multicluster), that cluster's
   * PRM on the serving host (auth spec §2.10 override, vector 26).
   */
  resourceMetadataUrl(req: IncomingMessage & { path?: string }, cluster?: string): string {
    const { server } = this.config.current;
    return protectedResourceMetadataUrl(requestView(req), serverView(server), server.oauth, cluster);
  }

  /** Who vouches for the bearer (spec §2.1): the broker for its own bound tokens, else the issuer's JWKS. */
  async verify(token: string, req: IncomingMessage & { path?: string }): Promise<ResourceServerVerdict> {
    if (token.length > MAX_BEARER_LENGTH) return { ok: false, reason: 'malformed' };
    const { server } = this.config.current;
    const oauth = server.oauth;
    // Verdicts are keyed by the token itself: a verdict already holds it (`clickhouseToken`), and hashing every
    // request's token only to look it up cost more than the rest of the check.
    if (oauth.broker && oauth.issued_tokens === 'bound') {
      if (!this.brokerTokens) {
        return { ok: false, reason: 'misconfigured', message: 'OAuth broker tokens cannot be verified: the broker is not part of this build' };
      }
      if (this.boundSource !== oauth) {
        // A reload may have changed the signing secret or the public URLs: earlier verdicts no longer stand.
        this.boundSource = oauth;
        this.verified.clear();
      }
      const resource = canonicalResourceUrl(resourceBaseUrl(requestView(req), serverView(server), oauth));
      // A bound token is a JWE: opening it costs a key unwrap and a decryption per request, so a verdict is kept
      // (per resource URL: the audience check depends on it) until one second before the token expires — the
      // broker refuses it from `exp` on, with no leeway, and so must a cached verdict.
      const key = `${resource}\n${token}`;
      let verdict: BearerVerdict | undefined = this.verified.get(key, this.now());
      if (!verdict) {
        try {
          verdict = await this.brokerTokens.verify(token, resource);
        } catch {
          return { ok: false, reason: 'malformed' };
        }
        if (verdict.ok && verdict.expiresAt !== undefined) this.verified.set(key, verdict, this.now(), verdict.expiresAt - 1);
      }
      // `required_scopes` holds for bound tokens as for the issuer's own (checked on every request, cached or not:
      // the setting is live).
      if (verdict.ok && !hasScopes(verdict.scopes, oauth.required_scopes)) return { ok: false, reason: 'insufficient_scope' };
      return verdict;
    }
    const verifier = this.verifier(oauth);
    if (verifier instanceof Error) return { ok: false, reason: 'misconfigured', message: verifier.message };
    const cached = this.verified.get(token, this.now());
    if (cached) return cached;
    const verification = await verifier.verify(token);
    if (!verification.ok) return verification;
    if (verification.kind === 'opaque') {
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
    this.verified.set(token, accepted, this.now(), accepted.expiresAt);
    return accepted;
  }

  /**
   * The caller identity of an accepted bearer: per-identity caches are keyed by a hash of the token, never the
   * token. A verdict from the cache is the same object on every request, so its identity is computed once.
   */
  callerIdentity(token: string, accepted: AcceptedBearer): CallerIdentity {
    const known = this.callers.get(accepted);
    if (known) return known;
    const caller = oauthIdentity(tokenDigest(token), accepted, token);
    this.callers.set(accepted, caller);
    return caller;
  }

  /**
   * The ClickHouse identity of an accepted bearer on `clickhouse` — the configuration in force, or in multicluster
   * mode the request's cluster copy: the probe dials that cluster's host, and the Bearer/Basic method is learnt
   * and remembered per cluster host (auth spec §3.4).
   */
  async identity(accepted: AcceptedBearer, clickhouse: GatewayConfig['clickhouse'] = this.config.current.clickhouse): Promise<ClickHouseIdentity> {
    const fixed = clickhouse !== this.config.current.clickhouse;
    const resolver = this.resolver(clickhouse, fixed);
    const endpoint = { host: normalizeHost(clickhouse.host), port: clickhouse.port, protocol: clickhouse.protocol };
    const endpointId = `${endpoint.host}:${endpoint.port}`;
    // The same verified token on the same endpoint, with the wire format still remembered, gets the same
    // (frozen) overrides object: the ClickHouse module then builds and hashes its connection once, not per request.
    let byEndpoint = this.sessions.get(accepted);
    const memo = byEndpoint?.get(endpointId);
    if (memo && memo.resolver === resolver && resolver.knownMethod(endpoint) === memo.identity.method) return memo.reused;
    const identity = await resolver.resolve(
      { raw: accepted.clickhouseToken, ...(accepted.kind === 'opaque' ? {} : { claims: accepted.claims }) },
      endpoint,
    );
    if (identity.ok) {
      if (identity.overrides.roles) Object.freeze(identity.overrides.roles);
      Object.freeze(identity.overrides);
      if (!byEndpoint) {
        byEndpoint = new Map();
        this.sessions.set(accepted, byEndpoint);
      }
      // One token rarely uses more than a few clusters; an empty allowlist must not let one grow this without end.
      if (byEndpoint.size >= MAX_ENDPOINTS_PER_TOKEN) byEndpoint.clear();
      byEndpoint.set(endpointId, { resolver, identity, reused: { ...identity, probed: false } });
    }
    return identity;
  }

  private verifier(oauth: OAuthConfig): BearerVerifier | Error {
    // A reload replaces the config objects: the same object means the same settings (no key to build per request).
    if (this.verifierMemo?.source === oauth) return this.verifierMemo.verifier;
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
    if (this.verifierMemo?.key === key) {
      this.verifierMemo.source = oauth;
      return this.verifierMemo.verifier;
    }
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
    this.verifierMemo = { key, source: oauth, verifier };
    return verifier;
  }

  /**
   * `fixed`: the config is a multicluster copy (boot snapshot) and the probe uses it as it is; otherwise the probe
   * reads the configuration in force at probe time, as before.
   */
  private resolver(clickhouse: GatewayConfig['clickhouse'], fixed: boolean): ClickHouseIdentityResolver {
    const { server } = this.config.current;
    const source = [server.oauth, clickhouse] as const;
    const endpointId = `${normalizeHost(clickhouse.host)}:${clickhouse.port}`;
    const memo = this.identityMemos.get(endpointId);
    if (memo && memo.source[0] === source[0] && memo.source[1] === source[1]) return memo.resolver;
    const key = JSON.stringify([
      server.oauth.role_claim,
      server.oauth.role_filter,
      server.oauth.username_claim,
      clickhouse.host,
      clickhouse.port,
      clickhouse.protocol,
      clickhouse.tls.enabled,
    ]);
    if (memo?.key === key) {
      memo.source = source;
      return memo.resolver;
    }
    const probe = clickHouseConnectionProbe(
      this.clickhouse,
      fixed ? () => clickhouse : () => this.config.current.clickhouse,
      this.options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    );
    const resolver = new ClickHouseIdentityResolver(
      { roleClaim: server.oauth.role_claim, roleFilter: server.oauth.role_filter, usernameClaim: server.oauth.username_claim },
      probe,
      new AuthMethodCache(this.options.methodCache),
    );
    // Bounded like the router's own memo: a fresh resolver only costs one probe.
    if (!memo && this.identityMemos.size >= MAX_IDENTITY_RESOLVERS) this.identityMemos.clear();
    this.identityMemos.set(endpointId, { key, source, resolver });
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

/** Every configured required scope (blank entries ignored) is among the granted ones. */
function hasScopes(granted: readonly string[], required: readonly string[]): boolean {
  return required.every((scope) => scope.trim() === '' || granted.includes(scope.trim()));
}
