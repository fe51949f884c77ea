import { describe, expect, it } from 'vitest';
import type { ConnectionOverrides } from '../../../common/request-context.js';
import { AuthMethodCache } from './auth-method-cache.js';
import {
  basicOverrides,
  bearerOverrides,
  ClickHouseIdentityResolver,
  type ClickHouseIdentityConfig,
  type ProbeOutcome,
} from './clickhouse-identity.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: Record<string, unknown>): string => `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(payload)}.c2ln`;

const ALICE = jwt({ email: 'alice@example.com', roles: ['sandbox_mcp', 'admin'] });
const BOB = jwt({ email: 'bob@example.com', roles: ['reader_mcp'] });
const ENDPOINT = { host: 'chi-otel.demo', port: 8123, protocol: 'http' };
const NO_ROLES: ClickHouseIdentityConfig = { roleClaim: '', roleFilter: '', usernameClaim: '' };

/** A ClickHouse stand-in: answers each probe from a script and records what it was sent. */
function scriptedProbe(accepts: (o: ConnectionOverrides) => ProbeOutcome) {
  const calls: ConnectionOverrides[] = [];
  const probe = async (overrides: ConnectionOverrides): Promise<ProbeOutcome> => {
    calls.push(structuredClone(overrides));
    return accepts(overrides);
  };
  return { probe, calls };
}

const bearerServer = (o: ConnectionOverrides): ProbeOutcome =>
  o.bearerToken ? { ok: true } : { ok: false, message: 'Code: 516. DB::Exception: Authentication failed' };
const sidecarServer = (o: ConnectionOverrides): ProbeOutcome =>
  o.bearerToken
    ? { ok: false, message: 'Code: 516. DB::Exception: Token authentication is not configured' }
    : { ok: true };

function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ClickHouseIdentityResolver: Bearer then Basic auto-detect', () => {
  it('uses Bearer when ClickHouse accepts it, clearing Basic credentials, and caches it', async () => {
    const { probe, calls } = scriptedProbe(bearerServer);
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    const first = await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(first).toEqual({ ok: true, method: 'bearer', probed: true, overrides: { bearerToken: ALICE, username: '', password: '' } });
    expect(calls).toEqual([{ bearerToken: ALICE, username: '', password: '' }]);
    // A second caller reuses the cached method with its own bearer (upstream §C.1): no new probe.
    const second = await resolver.resolve({ raw: BOB }, ENDPOINT);
    expect(second).toEqual({ ok: true, method: 'bearer', probed: false, overrides: { bearerToken: BOB, username: '', password: '' } });
    expect(calls).toHaveLength(1);
  });

  it('falls back to Basic (email + raw JWT) on an auth refusal, and caches Basic', async () => {
    const { probe, calls } = scriptedProbe(sidecarServer);
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    const result = await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(result).toEqual({
      ok: true,
      method: 'basic',
      probed: true,
      overrides: { username: 'alice@example.com', password: ALICE, bearerToken: '' },
    });
    expect(calls.map((c) => (c.bearerToken ? 'bearer' : `basic:${c.username}`))).toEqual(['bearer', 'basic:alice@example.com']);
    await resolver.resolve({ raw: BOB }, ENDPOINT);
    expect(calls).toHaveLength(2);
  });

  it('does not try Basic, nor cache, when the Bearer probe fails for another reason', async () => {
    const { probe, calls } = scriptedProbe(() => ({ ok: false, message: 'connect ECONNREFUSED 127.0.0.1:8123' }));
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    expect(await resolver.resolve({ raw: ALICE }, ENDPOINT)).toEqual({
      ok: false,
      reason: 'connection_failed',
      error: 'failed to create ClickHouse client: connect ECONNREFUSED 127.0.0.1:8123',
    });
    await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.bearerToken === ALICE)).toBe(true);
  });

  it('caches nothing when Basic fails too, and reports the Basic error', async () => {
    const { probe, calls } = scriptedProbe(() => ({ ok: false, message: 'HTTP 401 Unauthorized' }));
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    expect(await resolver.resolve({ raw: ALICE }, ENDPOINT)).toEqual({
      ok: false,
      reason: 'connection_failed',
      error: 'failed to create ClickHouse client: HTTP 401 Unauthorized',
    });
    await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(calls).toHaveLength(4);
  });

  it('refuses a token without a Basic user name when Basic is needed, caching nothing', async () => {
    const { probe, calls } = scriptedProbe(sidecarServer);
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    expect(await resolver.resolve({ raw: 'opaque-access-token' }, ENDPOINT)).toEqual({
      ok: false,
      reason: 'unusable_token',
      error: 'oauth: bearer is not a JWT with an email claim',
    });
    expect(calls).toHaveLength(1);
    // The next caller with a usable token still probes (nothing was pinned by the bad one).
    expect((await resolver.resolve({ raw: ALICE }, ENDPOINT)).ok).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it('refuses a token without a user name on a cached Basic endpoint', async () => {
    const cache = new AuthMethodCache();
    cache.set('chi-otel.demo:8123', 'basic');
    const { probe, calls } = scriptedProbe(sidecarServer);
    const resolver = new ClickHouseIdentityResolver({ ...NO_ROLES, usernameClaim: 'preferred_username' }, probe, cache);
    const result = await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(result).toEqual({
      ok: false,
      reason: 'unusable_token',
      error: 'oauth: bearer JWT has no usable Basic username (claim "preferred_username" missing, empty, or non-string)',
    });
    expect(calls).toHaveLength(0);
  });

  it('uses username_claim on the Basic path, and prefers verified claims over the payload', async () => {
    const { probe } = scriptedProbe(sidecarServer);
    const resolver = new ClickHouseIdentityResolver({ ...NO_ROLES, usernameClaim: 'preferred_username' }, probe);
    const result = await resolver.resolve({ raw: ALICE, claims: { preferred_username: 'alice' } }, ENDPOINT);
    expect(result).toMatchObject({ ok: true, method: 'basic', overrides: { username: 'alice', password: ALICE } });
  });

  it('re-probes an endpoint once the cached method is older than the TTL', async () => {
    const clock = fakeClock();
    let sidecar = true;
    const { probe, calls } = scriptedProbe((o) => (sidecar ? sidecarServer(o) : bearerServer(o)));
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe, new AuthMethodCache({ ttlMs: 60_000, now: clock.now }));
    expect(await resolver.resolve({ raw: ALICE }, ENDPOINT)).toMatchObject({ method: 'basic', probed: true });
    sidecar = false; // the operator upgrades ClickHouse to one with token_processors
    clock.advance(59_999);
    expect(await resolver.resolve({ raw: ALICE }, ENDPOINT)).toMatchObject({ method: 'basic', probed: false });
    clock.advance(1);
    expect(await resolver.resolve({ raw: ALICE }, ENDPOINT)).toMatchObject({ method: 'bearer', probed: true });
    expect(calls).toHaveLength(3);
  });

  it('keeps one method per host:port', async () => {
    const { probe } = scriptedProbe((o) => (o.bearerToken ? { ok: false, message: '403 Forbidden' } : { ok: true }));
    const cache = new AuthMethodCache();
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe, cache);
    await resolver.resolve({ raw: ALICE }, ENDPOINT);
    await resolver.resolve({ raw: ALICE }, { ...ENDPOINT, port: 8443 });
    await resolver.resolve({ raw: ALICE }, { ...ENDPOINT, host: 'chi-antalya.demo' });
    expect(cache.size).toBe(3);
    expect(cache.get('chi-otel.demo:8443')).toBe('basic');
  });

  it("trusts the probe's own verdict over the error text", async () => {
    const notAuth = scriptedProbe(() => ({ ok: false, message: 'connect ECONNREFUSED 127.0.0.1:14010', authRefused: false }));
    expect(await new ClickHouseIdentityResolver(NO_ROLES, notAuth.probe).resolve({ raw: ALICE }, ENDPOINT)).toMatchObject({ reason: 'connection_failed' });
    expect(notAuth.calls).toHaveLength(1);
    const auth = scriptedProbe((o) => (o.bearerToken ? { ok: false, message: 'refused', authRefused: true } : { ok: true }));
    expect(await new ClickHouseIdentityResolver(NO_ROLES, auth.probe).resolve({ raw: ALICE }, ENDPOINT)).toMatchObject({ method: 'basic' });
  });

  it('never lets the bearer into an error text', async () => {
    const { probe } = scriptedProbe((o) => ({ ok: false, message: `proxy echoed: Bearer ${o.bearerToken}` }));
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    const result = await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain(ALICE);
    expect(result).toMatchObject({ error: 'failed to create ClickHouse client: proxy echoed: Bearer [token]' });
  });
});

describe('ClickHouseIdentityResolver: roles', () => {
  const ROLES: ClickHouseIdentityConfig = { roleClaim: 'roles', roleFilter: '_mcp$', usernameClaim: '' };

  it('activates the filtered roles on the request, but probes without them', async () => {
    const { probe, calls } = scriptedProbe(sidecarServer);
    const resolver = new ClickHouseIdentityResolver(ROLES, probe);
    const result = await resolver.resolve({ raw: ALICE }, ENDPOINT);
    expect(result).toEqual({
      ok: true,
      method: 'basic',
      probed: true,
      overrides: { username: 'alice@example.com', password: ALICE, bearerToken: '', roles: ['sandbox_mcp'] },
    });
    expect(calls.every((c) => c.roles === undefined)).toBe(true);
  });

  it('denies before any probe when no role matches', async () => {
    const { probe, calls } = scriptedProbe(bearerServer);
    const resolver = new ClickHouseIdentityResolver(ROLES, probe);
    const result = await resolver.resolve({ raw: jwt({ email: 'e@x', roles: ['admin', 'analyst'] }) }, ENDPOINT);
    expect(result).toEqual({
      ok: false,
      reason: 'access_denied',
      error: 'oauth: access denied \u2014 no ClickHouse roles in claim "roles" matched role_filter',
    });
    expect(calls).toHaveLength(0);
  });

  it('refuses role activation on the embedded engine', async () => {
    const { probe, calls } = scriptedProbe(bearerServer);
    const resolver = new ClickHouseIdentityResolver(ROLES, probe);
    const result = await resolver.resolve({ raw: ALICE }, { ...ENDPOINT, protocol: 'embedded' });
    expect(result).toMatchObject({ ok: false, reason: 'misconfigured' });
    expect(calls).toHaveLength(0);
  });
});

describe('override isolation (upstream §C vectors)', () => {
  it('bearer A and bearer B give independent objects; mutating one touches neither the other nor the input roles', () => {
    const roles = ['reader'];
    const a = bearerOverrides('A', roles);
    const b = bearerOverrides('B', roles);
    expect(a.bearerToken).toBe('A');
    expect(b.bearerToken).toBe('B');
    a.roles!.push('writer');
    expect(b.roles).toEqual(['reader']);
    expect(roles).toEqual(['reader']);
  });

  it('Basic overrides copy roles too, and carry no host or port (the operator endpoint is used)', () => {
    const roles = ['r'];
    const basic = basicOverrides('alice', 'jwt', roles);
    basic.roles!.length = 0;
    expect(roles).toEqual(['r']);
    expect(basic).not.toHaveProperty('host');
    expect(basic).not.toHaveProperty('port');
  });

  it('100 concurrent callers each get their own bearer', async () => {
    const { probe } = scriptedProbe(bearerServer);
    const resolver = new ClickHouseIdentityResolver(NO_ROLES, probe);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => resolver.resolve({ raw: jwt({ email: `caller-${i}@x` }) }, ENDPOINT)),
    );
    results.forEach((r, i) => {
      expect(r.ok && r.overrides.bearerToken).toBe(jwt({ email: `caller-${i}@x` }));
    });
    const first = results[0];
    if (first.ok) first.overrides.bearerToken = 'mutated';
    expect(results[1].ok && results[1].overrides.bearerToken).toBe(jwt({ email: 'caller-1@x' }));
  });
});
