import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JwtVerifySidecar, startJwtVerifySidecar } from '../support/ch-jwt-verify-sidecar.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startTestIdp, type TestIdp } from '../support/test-idp.js';
import { MCP_POST_HEADERS, rawHttp, type RawResponse } from '../mcp/mcp-e2e-helpers.js';

/**
 * Issue 17 "Must show" (bad input, resource-server part): malformed requests on the MCP and PRM routes of an OAuth
 * gateway get a 4xx with a JSON (MCP) or the PRM document — never a 500, never a stack trace — and the gateway's
 * captured logs never contain a token that was sent.
 */

const RESOURCE = 'https://mcp.example.com';
const USERS = { 'alice@example.com': { user: 'tester', password: 'secret' } };
const RPC = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1' } } });
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const FAR = 9_999_999_999;

let idp: TestIdp;
let sidecar: JwtVerifySidecar;
let gw: TestGateway;
/** Without public_resource_url: the PRM URLs come from the (filtered) Host header. */
let hostDerived: TestGateway;
let good: string;
/** Every token sent, to look for in the logs. */
const sentTokens: string[] = [];

function oauthEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    MCP_OAUTH_ENABLED: 'true',
    MCP_OAUTH_ISSUER: idp.issuer,
    MCP_OAUTH_AUDIENCE: RESOURCE,
    MCP_OAUTH_PUBLIC_RESOURCE_URL: RESOURCE,
    MCP_OAUTH_SCOPES: 'openid,email',
    ...extra,
  };
}

beforeAll(async () => {
  idp = await startTestIdp();
  sidecar = await startJwtVerifySidecar({ mode: 'basic', users: USERS, verify: (t) => idp.verify(t) });
  const flags = ['--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(sidecar.port), '--max-body-bytes', '4096'];
  gw = await startGateway(flags, oauthEnv());
  hostDerived = await startGateway(flags, oauthEnv({ MCP_OAUTH_PUBLIC_RESOURCE_URL: '', MCP_OAUTH_AUDIENCE: `${RESOURCE}/mcp` }));
  good = await idp.sign(RESOURCE, { claims: { email: 'alice@example.com', scope: 'openid email' } });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await hostDerived?.close();
  await sidecar?.close();
  await idp?.close();
});

function expectNoStack(res: RawResponse): void {
  expect(res.status).not.toBe(500);
  expect(res.body).not.toMatch(/\n\s+at |Error: |node_modules|\.ts:\d+/);
}

function expectJsonRefusal(res: RawResponse, status: number[] = [401]): void {
  expectNoStack(res);
  expect(status).toContain(res.status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { error?: unknown; error_description?: unknown };
  expect(typeof body.error).toBe('string');
  expect(typeof body.error_description).toBe('string');
}

const header = (h: Record<string, unknown>, p: Record<string, unknown> | string, sig = 'c2ln') => `${b64(h)}.${typeof p === 'string' ? p : b64(p)}.${sig}`;
const claims = (extra: Record<string, unknown> = {}) => ({ iss: 'ISSUER', aud: RESOURCE, exp: FAR, email: 'alice@example.com', ...extra });

/** [name, Authorization value] — each must be refused with 401/403 JSON by the MCP route. */
const BAD_AUTHORIZATION: Array<[string, () => string]> = [
  ['scheme only', () => 'Bearer'],
  ['two spaces', () => 'Bearer  '],
  ['tab after scheme', () => 'Bearer\tabc'],
  ['upper-case scheme', () => `BEARER ${good}`],
  ['Basic with the good token as password', () => `Basic ${Buffer.from(`alice@example.com:${good}`).toString('base64')}`],
  ['Token scheme', () => `Token ${good}`],
  ['two parts', () => 'Bearer header.payload'],
  ['three empty parts', () => 'Bearer ..'],
  ['a.b.c', () => 'Bearer a.b.c'],
  ['huge opaque token (15 KB)', () => `Bearer ${'A'.repeat(15_000)}`],
  ['huge dotted token', () => `Bearer ${'ab.'.repeat(4_000)}x`],
  ['header not base64', () => 'Bearer !!!notbase64!!!.e30.c2ln'],
  ['payload not base64', () => `Bearer ${b64({ alg: 'RS256' })}.!!notbase64!!.c2ln`],
  ['header is a JSON string', () => `Bearer ${b64('"RS256"')}.e30.c2ln`],
  ['header is a JSON array', () => `Bearer ${b64('[1,2]')}.e30.c2ln`],
  ['header alg is a number', () => `Bearer ${header({ alg: 1 }, claims())}`],
  ['header is not JSON', () => `Bearer ${b64('{alg:RS256')}.e30.c2ln`],
  ['payload is not JSON', () => `Bearer ${header({ alg: 'RS256' }, b64('not json'))}`],
  ['payload is an array', () => `Bearer ${header({ alg: 'RS256' }, b64('[]'))}`],
  ['payload is null', () => `Bearer ${header({ alg: 'RS256' }, b64('null'))}`],
  ['kid of 1000 characters', () => `Bearer ${header({ alg: 'RS256', kid: 'k'.repeat(1000) }, claims())}`],
  ['critical header the server cannot know', () => `Bearer ${header({ alg: 'RS256', kid: idp.key.kid, crit: ['x-unknown'], 'x-unknown': 1 }, claims())}`],
  ['jku pointing elsewhere', () => `Bearer ${header({ alg: 'RS256', jku: 'http://127.0.0.1:1/keys', kid: 'attacker' }, claims())}`],
  ['embedded jwk', () => `Bearer ${header({ alg: 'RS256', jwk: idp.key.publicJwk }, claims())}`],
  ['alg none, empty signature', () => `Bearer ${header({ alg: 'none' }, claims(), '')}`],
  ['alg HS512', () => `Bearer ${header({ alg: 'HS512', kid: idp.key.kid }, claims())}`],
  ['alg ES256 on the RSA kid', () => `Bearer ${header({ alg: 'ES256', kid: idp.key.kid }, claims())}`],
  ['signature of random bytes', () => `Bearer ${header({ alg: 'RS256', kid: idp.key.kid }, claims(), b64('x'.repeat(256)))}`],
  ['JWE-shaped (five parts)', () => `Bearer ${b64({ alg: 'dir', enc: 'A256GCM' })}..iv.ct.tag`],
  ['latin-1 characters', () => 'Bearer ab\u00e9\u00e8cd'],
  ['good token with a trailing dot', () => `Bearer ${good}.`],
  ['good token twice', () => `Bearer ${good} ${good}`],
  ['good token with a stripped signature', () => `Bearer ${good.split('.').slice(0, 2).join('.')}.`],
];

/** Claims that a real signature carries but that are wrong in type or value. */
const BAD_SIGNED_CLAIMS: Array<[string, Record<string, unknown>, number]> = [
  ['exp as a numeric string', { exp: String(FAR) }, 401],
  ['exp as a word', { exp: 'soon' }, 401],
  ['exp negative', { exp: -1 }, 401],
  ['exp missing', { exp: undefined }, 401],
  ['aud as an object', { aud: { url: RESOURCE } }, 401],
  ['iss as a number', { iss: 42 }, 401],
  ['nbf far in the future', { nbf: FAR }, 401],
  ['scope as a number', { scope: 7 }, 401],
  ['scp as an object', { scope: undefined, scp: { a: 1 } }, 401],
  ['iat far in the future', { iat: FAR }, 401],
];

describe('OAuth resource server: bad input never becomes a 500', () => {
  it.each(BAD_AUTHORIZATION)('MCP, Authorization %s → 401 JSON with a challenge', async (_name, make) => {
    const value = make();
    sentTokens.push(value);
    const res = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: value }, body: RPC });
    expectJsonRefusal(res);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource", scope="openid email"$/);
  });

  it.each(BAD_SIGNED_CLAIMS)('MCP, a correctly signed token with %s → %i JSON', async (_name, extra, status) => {
    const token = await idp.sign(RESOURCE, { claims: { email: 'alice@example.com', scope: 'openid email', ...extra } });
    sentTokens.push(token);
    const res = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}` }, body: RPC });
    expectJsonRefusal(res, [status]);
  });

  it.each([
    ['not JSON', 'this is not json', [400]],
    ['truncated JSON', '{"jsonrpc":"2.0","id":1,"method":', [400]],
    ['a JSON-RPC batch', `[${RPC},${RPC}]`, [400]],
    ['a JSON number', '42', [400]],
    ['an empty body', '', [400]],
  ])('a good token with %s as the body → a 4xx JSON-RPC error', async (_name, body, statuses) => {
    const res = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${good}` }, body });
    expectNoStack(res);
    expect(statuses).toContain(res.status);
    expect(JSON.parse(res.body)).toHaveProperty('error');
  });

  it.each([
    ['not JSON', 'this is not json'],
    ['a batch', `[${RPC}]`],
  ])('a bad token with %s as the body → 401 (auth comes first)', async (_name, body) => {
    const res = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: 'Bearer forged.token.here' }, body });
    expectJsonRefusal(res);
  });

  it('a good token with a body over max_body_bytes → 413, a bad one → 401 before the body is read', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(10_000) } });
    const withGood = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${good}` }, body: big });
    expectNoStack(withGood);
    expect(withGood.status).toBe(413);
    const withBad = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: 'Bearer bad' }, body: big });
    expectJsonRefusal(withBad);
  });

  it('GET on the MCP route with a bad token → 401; with a good one → 405', async () => {
    const bad = await rawHttp(gw.url, { method: 'GET', path: '/', headers: { Authorization: 'Bearer bad' } });
    expectJsonRefusal(bad);
    const ok = await rawHttp(gw.url, { method: 'GET', path: '/', headers: { Authorization: `Bearer ${good}` } });
    expectNoStack(ok);
    expect(ok.status).toBe(405);
  });

  it('x-altinity-mcp-key and the path are no bearer in OAuth-only mode', async () => {
    const key = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, 'x-altinity-mcp-key': good }, body: RPC });
    expectJsonRefusal(key);
    const path = await rawHttp(gw.url, { path: `/${good}`, headers: MCP_POST_HEADERS, body: RPC });
    expectJsonRefusal(path);
  });

  it.each([
    ['HEAD', '/.well-known/oauth-protected-resource'],
    ['PUT', '/.well-known/oauth-protected-resource'],
    ['DELETE', '/.well-known/oauth-protected-resource/mcp'],
    ['GET', '/.well-known/oauth-protected-resource?x=%00&resource=https://evil.example'],
    ['GET', '/.well-known/oauth-protected-resource/..%2f..%2fetc%2fpasswd'],
    ['GET', `/.well-known/oauth-protected-resource/${'a/'.repeat(1500)}`],
    ['GET', '/.well-known/oauth-protected-resource/%22%3Cscript%3E'],
  ])('PRM %s %s with a fixed public_resource_url: 200, the fixed resource', async (method, path) => {
    const res = await rawHttp(gw.url, { method, path, headers: { Authorization: 'Bearer garbage', Host: 'evil.example' } });
    expectNoStack(res);
    expect(res.status).toBe(200);
    if (method !== 'HEAD') expect(JSON.parse(res.body)).toMatchObject({ resource: 'https://mcp.example.com/', authorization_servers: [idp.issuer] });
  });

  it('PRM with broken percent-encoding in the path → 400 without a stack', async () => {
    const res = await rawHttp(gw.url, { method: 'GET', path: '/.well-known/oauth-protected-resource/%E0%A4%A' });
    expectNoStack(res);
    expect(res.status).toBe(400);
  });

  it('a signed token with exp of 1e308 is simply far in the future (no overflow, no 500)', async () => {
    const token = await idp.sign(RESOURCE, { claims: { email: 'alice@example.com', scope: 'openid email', exp: 1e308 } });
    const res = await rawHttp(gw.url, { path: '/', headers: { ...MCP_POST_HEADERS, Authorization: `Bearer ${token}` }, body: RPC });
    expectNoStack(res);
    expect(res.status).toBe(200);
  });

  it.each([
    ['a quote and angle brackets', 'evil"<x>.example'],
    ['userinfo', 'user@evil.example'],
    ['a path', 'evil.example/path'],
    ['a comma', 'a.example,b.example'],
    ['a backslash', 'evil\\.example'],
  ])('PRM without public_resource_url: a Host with %s falls back to the listen address', async (_name, host) => {
    const res = await rawHttp(hostDerived.url, { method: 'GET', path: '/.well-known/oauth-protected-resource', headers: { Host: host } });
    expectNoStack(res);
    expect(res.status).toBe(200);
    const resource = (JSON.parse(res.body) as { resource: string }).resource;
    expect(resource).toMatch(/^http:\/\/127\.0\.0\.1:1\/mcp\/$/);
  });

  it('PRM without public_resource_url: the path-aware form names the path; a plain Host is used as given', async () => {
    const res = await rawHttp(hostDerived.url, { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp/otel', headers: { Host: 'mcp.internal:8080' } });
    expect(JSON.parse(res.body)).toMatchObject({ resource: 'http://mcp.internal:8080/mcp/otel/' });
    const challenge = await rawHttp(hostDerived.url, { path: '/', headers: { ...MCP_POST_HEADERS, Host: 'evil"host' }, body: RPC });
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toContain('resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp"');
  });

  it('the logs never contain a token that was sent', () => {
    const logs = [...gw.logs, ...hostDerived.logs].join('\n');
    const distinctive = [good, ...sentTokens].map((t) => t.replace(/^\S+ /, '')).filter((t) => t.length >= 16);
    expect(distinctive.length).toBeGreaterThan(20);
    for (const token of distinctive) expect(logs).not.toContain(token);
    expect(logs).not.toContain(good.split('.')[2]!);
  });
});
