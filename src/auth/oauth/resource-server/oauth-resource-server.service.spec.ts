import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClickHouseService } from '../../../clickhouse/clickhouse.service.js';
import { ClickHouseQueryError } from '../../../clickhouse/clickhouse-error.js';
import type { ConnectionOverrides } from '../../../common/request-context.js';
import type { ConfigStore } from '../../../config/config.store.js';
import type { GatewayConfig, OAuthConfig } from '../../../config/config.types.js';
import { BrokerAccessTokens, type BearerVerdict } from '../oauth-bearer.js';
import { BearerVerifier } from './bearer-verifier.js';
import type { DocumentFetcher } from './jwks-key-source.js';
import { bearerOf, MAX_BEARER_LENGTH, OAuthResourceServer } from './oauth-resource-server.service.js';

const ISSUER = 'https://idp.example.com';
const RESOURCE = 'https://mcp.example.com';

let privateKey: CryptoKey;
let publicJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
});

const fetcher: DocumentFetcher = async () => ({ status: 200, contentType: 'application/json', body: JSON.stringify({ keys: [publicJwk] }) });

function sign(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ iss: ISSUER, exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
}

function oauthConfig(overrides: Partial<OAuthConfig> = {}): OAuthConfig {
  return {
    enabled: true,
    broker: false,
    issuer: ISSUER,
    jwks_url: `${ISSUER}/jwks`,
    audience: RESOURCE,
    public_resource_url: RESOURCE,
    public_auth_server_url: '',
    client_id: '',
    client_secret: '',
    auth_url: '',
    token_url: '',
    userinfo_url: '',
    scopes: [],
    required_scopes: [],
    upstream_offline_access: false,
    upstream_force_consent: false,
    authorization_path: '',
    callback_path: '',
    token_path: '',
    signing_secret: '',
    access_token_ttl_seconds: 0,
    refresh_token_ttl_seconds: 0,
    jwks_cache_ttl: 0,
    strict_jwt_only: false,
    role_claim: '',
    role_filter: '',
    username_claim: '',
    allow_opaque_tokens: false,
    issued_tokens: 'bound',
    consent: true,
    consent_ttl_seconds: 0,
    requests_per_minute: 0,
    ...overrides,
  };
}

/** A ClickHouse that validates bearers itself unless `basicOnly`; records each probe's credential kind. */
function fakeClickHouse(state: { basicOnly: boolean; probes: string[] }): ClickHouseService {
  return {
    connectionFromConfig: (_cfg: unknown, overrides: ConnectionOverrides = {}) => overrides,
    ping: async (conn: ConnectionOverrides) => {
      state.probes.push(conn.bearerToken ? 'bearer' : 'basic');
      if (conn.bearerToken && state.basicOnly) {
        throw new ClickHouseQueryError({ kind: 'auth_failed', httpStatus: 403, userMessage: 'Token authentication is not configured' } as never);
      }
    },
  } as unknown as ClickHouseService;
}

function setup(oauth: Partial<OAuthConfig> = {}, options: { broker?: BrokerAccessTokens; now?: () => number; basicOnly?: boolean; clock?: () => number } = {}) {
  const config = {
    current: {
      clickhouse: { host: 'ch.internal', port: 8123, protocol: 'http', tls: { enabled: false } },
      server: { address: '127.0.0.1', port: 8080, tls: { enabled: false }, openapi: { tls: false }, oauth: oauthConfig(oauth) },
    } as unknown as GatewayConfig,
  };
  const ch = { basicOnly: options.basicOnly ?? false, probes: [] as string[] };
  const service = new OAuthResourceServer(config as unknown as ConfigStore, fakeClickHouse(ch), options.broker, {
    verifier: { fetcher },
    methodCache: { ttlMs: 1000, now: options.now },
    ...(options.clock ? { now: options.clock } : {}),
  });
  return { service, config, ch };
}

const req = (host = 'mcp.example.com', path = '/') => ({ headers: { host }, socket: {}, path }) as never;

class FakeBroker extends BrokerAccessTokens {
  calls: Array<[string, string]> = [];
  expiresAt: number | undefined;
  async verify(token: string, resourceUrl: string): Promise<BearerVerdict> {
    this.calls.push([token, resourceUrl]);
    return token === 'bound-good'
      ? { ok: true, kind: 'bound', clickhouseToken: 'upstream-jwt', claims: { email: 'a@example.com' }, scopes: ['openid'], subject: 'a', ...(this.expiresAt ? { expiresAt: this.expiresAt } : {}) }
      : { ok: false, reason: 'wrong_audience' };
  }
}

describe('OAuthResourceServer', () => {
  it('bearerOf: the remainder after the case-sensitive "Bearer " prefix, verbatim', () => {
    expect(bearerOf({ headers: { authorization: 'Bearer a b ' } } as never)).toBe('a b ');
    expect(bearerOf({ headers: { authorization: 'Bearer ' } } as never)).toBeUndefined();
    expect(bearerOf({ headers: { authorization: 'bearer a' } } as never)).toBeUndefined();
    expect(bearerOf({ headers: {} } as never)).toBeUndefined();
  });

  it('broker off: a JWT of the issuer for this resource is accepted with its claims and subject', async () => {
    const { service } = setup();
    const verdict = await service.verify(await sign({ aud: RESOURCE, sub: 'alice', scope: 'openid' }), req());
    expect(verdict).toMatchObject({ ok: true, kind: 'jwt', subject: 'alice', scopes: ['openid'] });
  });

  it('a verified bearer is cached (one signature check), never past its exp, and dropped on a config change', async () => {
    const spy = vi.spyOn(BearerVerifier.prototype, 'verify');
    try {
      let clock = Date.now();
      const { service, config } = setup({}, { clock: () => clock });
      const exp = Math.floor(clock / 1000) + 30;
      const tokenA = await sign({ aud: RESOURCE, exp });
      expect((await service.verify(tokenA, req())).ok).toBe(true);
      expect((await service.verify(tokenA, req())).ok).toBe(true);
      expect(spy).toHaveBeenCalledTimes(1);
      // Past exp the entry is gone: the token is verified again (and the verifier, with its leeway, decides).
      clock = (exp + 2) * 1000;
      await service.verify(tokenA, req());
      expect(spy).toHaveBeenCalledTimes(2);
      // Refusals are not cached.
      await service.verify('a.b.c', req());
      await service.verify('a.b.c', req());
      expect(spy).toHaveBeenCalledTimes(4);
      // A reload that changes what is verified drops every entry.
      clock = Date.now();
      const tokenB = await sign({ aud: RESOURCE });
      await service.verify(tokenB, req());
      config.current.server.oauth = oauthConfig({ required_scopes: ['admin'] });
      expect(await service.verify(tokenB, req())).toEqual({ ok: false, reason: 'insufficient_scope' });
    } finally {
      spy.mockRestore();
    }
  });

  it('an over-long bearer is malformed without any parsing or fetching', async () => {
    const { service } = setup();
    expect(await service.verify('x'.repeat(MAX_BEARER_LENGTH + 1), req())).toEqual({ ok: false, reason: 'malformed' });
  });

  it('broker + bound tokens: the broker verifies, against the canonical resource URL of this server', async () => {
    const broker = new FakeBroker();
    const { service } = setup({ broker: true, issued_tokens: 'bound', public_resource_url: '' , audience: '' }, { broker });
    expect(await service.verify('bound-good', req('gw.example.com:8443'))).toMatchObject({ ok: true, kind: 'bound', clickhouseToken: 'upstream-jwt' });
    expect(broker.calls).toEqual([['bound-good', 'http://gw.example.com:8443/']]);
    expect(await service.verify('other', req())).toEqual({ ok: false, reason: 'wrong_audience' });
  });

  it('broker + bound tokens: required_scopes is enforced on the scope the token carries (403 insufficient_scope)', async () => {
    const broker = new FakeBroker();
    broker.expiresAt = Math.floor(Date.now() / 1000) + 600; // cached verdicts too
    const granted = setup({ broker: true, issued_tokens: 'bound', required_scopes: ['openid'] }, { broker }).service;
    expect(await granted.verify('bound-good', req())).toMatchObject({ ok: true, kind: 'bound' });
    const missing = setup({ broker: true, issued_tokens: 'bound', required_scopes: ['openid', 'mcp:query'] }, { broker }).service;
    expect(await missing.verify('bound-good', req())).toEqual({ ok: false, reason: 'insufficient_scope' });
    // The second look comes from the verdict cache (the broker is not asked again) and is refused the same way.
    const asked = broker.calls.length;
    expect(await missing.verify('bound-good', req())).toEqual({ ok: false, reason: 'insufficient_scope' });
    expect(broker.calls.length).toBe(asked);
  });

  it('broker + bound tokens without the broker module: refused as misconfigured, never let through', async () => {
    const { service } = setup({ broker: true, issued_tokens: 'bound' });
    expect(await service.verify(await sign({ aud: RESOURCE }), req())).toMatchObject({ ok: false, reason: 'misconfigured' });
  });

  it('broker + upstream tokens: the upstream token is checked for client_id (or audience), not this resource', async () => {
    const { service } = setup({ broker: true, issued_tokens: 'upstream', client_id: 'client-123', audience: '' });
    expect((await service.verify(await sign({ aud: 'client-123' }), req())).ok).toBe(true);
    expect(await service.verify(await sign({ aud: RESOURCE }), req())).toEqual({ ok: false, reason: 'wrong_audience' });
    const api = setup({ broker: true, issued_tokens: 'upstream', client_id: 'client-123', audience: 'https://api.example.com' });
    expect((await api.service.verify(await sign({ aud: 'https://api.example.com' }), req())).ok).toBe(true);
  });

  it('a configuration that cannot verify (no issuer) is misconfigured, not an exception', async () => {
    const { service } = setup({ issuer: '', jwks_url: '' });
    expect(await service.verify(await sign({ aud: RESOURCE }), req())).toMatchObject({ ok: false, reason: 'misconfigured' });
  });

  it('identity: the endpoint\'s method is probed once, cached, and re-probed after the TTL', async () => {
    let now = 0;
    const { service, ch } = setup({}, { basicOnly: true, now: () => now });
    const accepted = { ok: true as const, kind: 'jwt' as const, clickhouseToken: 'jwt-1', claims: { email: 'a@example.com' }, scopes: [] };
    expect(await service.identity(accepted)).toMatchObject({ ok: true, method: 'basic', probed: true });
    expect(await service.identity(accepted)).toMatchObject({ ok: true, method: 'basic', probed: false });
    expect(ch.probes).toEqual(['bearer', 'basic']);
    now = 1001;
    expect(await service.identity(accepted)).toMatchObject({ ok: true, method: 'basic', probed: true });
    expect(ch.probes).toEqual(['bearer', 'basic', 'bearer', 'basic']);
  });

  it('the same verified token keeps one frozen overrides object while the method is remembered (one connection spec)', async () => {
    const { service } = setup();
    const accepted = { ok: true as const, kind: 'jwt' as const, clickhouseToken: 'jwt-1', claims: { email: 'a@example.com' }, scopes: [] };
    const first = await service.identity(accepted);
    const second = await service.identity(accepted);
    const other = await service.identity({ ...accepted });
    if (!first.ok || !second.ok || !other.ok) throw new Error('identity refused');
    expect(second.overrides).toBe(first.overrides);
    expect(Object.isFrozen(first.overrides)).toBe(true);
    expect(other.overrides).not.toBe(first.overrides);
    expect(other.overrides).toEqual(first.overrides);
  });

  it('a reload that changes the identity rules builds a new resolver (and a fresh method cache)', async () => {
    const { service, config, ch } = setup();
    const accepted = { ok: true as const, kind: 'jwt' as const, clickhouseToken: 'jwt-1', claims: { email: 'a@example.com', roles: ['r1'] }, scopes: [] };
    expect(await service.identity(accepted)).toMatchObject({ ok: true, method: 'bearer', overrides: { bearerToken: 'jwt-1' } });
    config.current.server.oauth = oauthConfig({ role_claim: 'roles' });
    expect(await service.identity(accepted)).toMatchObject({ ok: true, overrides: { bearerToken: 'jwt-1', roles: ['r1'] } });
    expect(ch.probes).toEqual(['bearer', 'bearer']);
  });

  it('an opaque token reaches identity without claims: Bearer works, Basic has no user name', async () => {
    const { service } = setup({}, { basicOnly: true });
    const opaque = { ok: true as const, kind: 'opaque' as const, clickhouseToken: 'opaque-1', claims: {}, scopes: [] };
    expect(await service.identity(opaque)).toMatchObject({ ok: false, reason: 'unusable_token' });
  });
});
