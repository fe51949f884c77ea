import { jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuthMethodCache } from '../../src/auth/oauth/clickhouse-identity/auth-method-cache.js';
import { ClickHouseIdentityResolver, type ClickHouseIdentityConfig } from '../../src/auth/oauth/clickhouse-identity/clickhouse-identity.js';
import { clickHouseConnectionProbe } from '../../src/auth/oauth/clickhouse-identity/clickhouse-probe.js';
import type { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import type { GatewayConfig } from '../../src/config/config.types.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { DEAD_PORT, makeService, testConfig } from '../clickhouse/ch-test-helpers.js';
import { type JwtVerifySidecar, type SidecarRequest, startJwtVerifySidecar } from '../support/ch-jwt-verify-sidecar.js';

/**
 * ClickHouse identity from an OAuth token, through the gateway's real ClickHouse client against the real
 * ClickHouse 18.16, behind the ch-jwt-verify stand-in of test/support (here verifying HS256 with a test key).
 */

const KEY = new TextEncoder().encode('sidecar-test-key-0123456789abcdef');
const USERS: Record<string, { user: string; password: string }> = {
  'alice@example.com': { user: 'tester', password: 'secret' },
  'rob@example.com': { user: 'ro', password: 'ro' },
};

let sidecar: JwtVerifySidecar;
let sidecarPort: number;
let seen: SidecarRequest[];
let service: ClickHouseService;

function sign(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(KEY);
}

function configAt(port: number, extra: Partial<GatewayConfig['clickhouse']> = {}): GatewayConfig['clickhouse'] {
  return testConfig({ host: '127.0.0.1', port, username: 'default', password: '', ...extra }).clickhouse;
}

function resolverFor(chConfig: GatewayConfig['clickhouse'], identity: Partial<ClickHouseIdentityConfig> = {}, cache = new AuthMethodCache()) {
  const probe = clickHouseConnectionProbe(service, () => chConfig, 5000);
  return new ClickHouseIdentityResolver({ roleClaim: '', roleFilter: '', usernameClaim: '', ...identity }, probe, cache);
}

async function currentUserVia(chConfig: GatewayConfig['clickhouse'], overrides: Parameters<ClickHouseService['connectionFromConfig']>[1]) {
  // 18.16 has no currentUser(): the running query finds itself in system.processes by a unique marker.
  const marker = `identity-${Math.random().toString(36).slice(2)}`;
  const sql = `SELECT user FROM system.processes WHERE query LIKE '%${marker}%'`;
  const result = await service.query(service.connectionFromConfig(chConfig, overrides), sql);
  return result.rows[0]?.[0];
}

beforeAll(async () => {
  sidecar = await startJwtVerifySidecar({
    users: USERS,
    verify: async (token) => (await jwtVerify(token, KEY, { algorithms: ['HS256'] })).payload,
  });
  sidecarPort = sidecar.port;
  seen = sidecar.seen;
  service = makeService();
});

afterAll(async () => {
  await service.close();
  await sidecar.close();
});

beforeEach(() => {
  seen.length = 0;
});

describe('OAuth ClickHouse identity through a ch-jwt-verify stand-in and ClickHouse 18.16', () => {
  it('behind a Basic-only sidecar: Bearer is refused, Basic (email + JWT) works, queries run as the mapped user', async () => {
    sidecar.mode = 'basic';
    const chConfig = configAt(sidecarPort);
    const cache = new AuthMethodCache();
    const resolver = resolverFor(chConfig, {}, cache);
    const alice = await sign({ email: 'alice@example.com' });
    const identity = await resolver.resolve({ raw: alice }, { host: '127.0.0.1', port: sidecarPort, protocol: 'http' });
    expect(identity).toMatchObject({ ok: true, method: 'basic', probed: true });
    expect(seen.map((s) => s.scheme)).toEqual(['Bearer', 'Basic']);
    expect(cache.get(`127.0.0.1:${sidecarPort}`)).toBe('basic');
    if (!identity.ok) throw new Error(identity.error);
    expect(await currentUserVia(chConfig, identity.overrides)).toBe('tester');

    // Another user on the cached endpoint: no probe, their own identity.
    seen.length = 0;
    const rob = await sign({ email: 'rob@example.com' });
    const robIdentity = await resolver.resolve({ raw: rob }, { host: '127.0.0.1', port: sidecarPort, protocol: 'http' });
    expect(robIdentity).toMatchObject({ ok: true, method: 'basic', probed: false });
    if (!robIdentity.ok) throw new Error(robIdentity.error);
    expect(await currentUserVia(chConfig, robIdentity.overrides)).toBe('ro');
    // The first query of a new client also asks the server's time zone: every request is rob's Basic.
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((s) => `${s.scheme}:${s.basicUser}`))).toEqual(new Set(['Basic:rob@example.com']));
  });

  it('behind a JWT-capable ClickHouse: Bearer is kept, and an operator Basic user is not sent with it', async () => {
    sidecar.mode = 'bearer';
    const chConfig = configAt(sidecarPort, { username: 'operator', password: 'operator-password' });
    const resolver = resolverFor(chConfig);
    const alice = await sign({ email: 'alice@example.com' });
    const identity = await resolver.resolve({ raw: alice }, { host: '127.0.0.1', port: sidecarPort, protocol: 'http' });
    expect(identity).toMatchObject({ ok: true, method: 'bearer', probed: true });
    if (!identity.ok) throw new Error(identity.error);
    expect(await currentUserVia(chConfig, identity.overrides)).toBe('tester');
    expect(seen.every((s) => s.scheme === 'Bearer')).toBe(true);
  });

  it('the Basic override wins over a bearer the operator put in http_headers', async () => {
    sidecar.mode = 'basic';
    const chConfig = configAt(sidecarPort, { http_headers: { Authorization: 'Bearer operator-static-token' } });
    const resolver = resolverFor(chConfig);
    const alice = await sign({ email: 'alice@example.com' });
    const identity = await resolver.resolve({ raw: alice }, { host: '127.0.0.1', port: sidecarPort, protocol: 'http' });
    expect(identity).toMatchObject({ ok: true, method: 'basic' });
    if (!identity.ok) throw new Error(identity.error);
    seen.length = 0;
    expect(await currentUserVia(chConfig, identity.overrides)).toBe('tester');
    expect(seen.map((s) => s.scheme)).toEqual(['Basic']);
  });

  it('sends the filtered roles as role= parameters on queries, never on probes', async () => {
    sidecar.mode = 'basic';
    const chConfig = configAt(sidecarPort);
    const resolver = resolverFor(chConfig, { roleClaim: 'roles', roleFilter: '_mcp$' });
    const alice = await sign({ email: 'alice@example.com', roles: ['sandbox_mcp', 'admin', 'reports_mcp'] });
    const identity = await resolver.resolve({ raw: alice }, { host: '127.0.0.1', port: sidecarPort, protocol: 'http' });
    expect(identity).toMatchObject({ ok: true, overrides: { roles: ['sandbox_mcp', 'reports_mcp'] } });
    expect(seen.every((s) => s.roles.length === 0)).toBe(true);
    if (!identity.ok) throw new Error(identity.error);
    seen.length = 0;
    await currentUserVia(chConfig, identity.overrides);
    expect(seen.map((s) => s.roles)).toEqual([['sandbox_mcp', 'reports_mcp']]);
  });

  it('a forged token fails on both methods, caches nothing, and its text stays out of the error', async () => {
    sidecar.mode = 'basic';
    const chConfig = configAt(sidecarPort);
    const cache = new AuthMethodCache();
    const resolver = resolverFor(chConfig, {}, cache);
    const real = await sign({ email: 'alice@example.com' });
    const [header, , signature] = real.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ email: 'alice@example.com', admin: true })).toString('base64url')}.${signature}`;
    const identity = await resolver.resolve({ raw: forged }, { host: '127.0.0.1', port: sidecarPort, protocol: 'http' });
    expect(identity).toMatchObject({ ok: false, reason: 'connection_failed' });
    if (identity.ok) return;
    expect(identity.error).toMatch(/^failed to create ClickHouse client: /);
    expect(identity.error).not.toContain(forged);
    expect(cache.size).toBe(0);
  });

  it('an unreachable ClickHouse is a connection failure: no Basic attempt, nothing cached', async () => {
    const chConfig = configAt(DEAD_PORT);
    const cache = new AuthMethodCache();
    const resolver = resolverFor(chConfig, {}, cache);
    const alice = await sign({ email: 'alice@example.com' });
    const identity = await resolver.resolve({ raw: alice }, { host: '127.0.0.1', port: DEAD_PORT, protocol: 'http' });
    expect(identity).toMatchObject({ ok: false, reason: 'connection_failed' });
    expect(cache.size).toBe(0);
  });

  it('stock ClickHouse 18.16 itself refuses a bearer as an auth failure, so the resolver moves on to Basic', async () => {
    const chConfig = configAt(CH_TEST_PORT);
    const realProbe = clickHouseConnectionProbe(service, () => chConfig, 5000);
    const outcomes: Array<{ method: string; ok: boolean; authRefused?: boolean }> = [];
    const resolver = new ClickHouseIdentityResolver({ roleClaim: '', roleFilter: '', usernameClaim: 'ch_user' }, async (overrides) => {
      const outcome = await realProbe(overrides);
      outcomes.push({ method: overrides.bearerToken ? 'bearer' : `basic:${overrides.username}`, ok: outcome.ok, ...(outcome.ok ? {} : { authRefused: outcome.authRefused }) });
      return outcome;
    });
    // 18.16 has no token support: Bearer is refused; Basic then sends the JWT as `ro`'s password, also refused.
    const token = await sign({ ch_user: 'ro' });
    const identity = await resolver.resolve({ raw: token }, { host: CH_TEST_HOST, port: CH_TEST_PORT, protocol: 'http' });
    expect(identity).toMatchObject({ ok: false, reason: 'connection_failed' });
    expect(outcomes).toEqual([
      { method: 'bearer', ok: false, authRefused: true },
      { method: 'basic:ro', ok: false, authRefused: true },
    ]);
    if (identity.ok) return;
    expect(identity.error).not.toContain(token);
  });
});
