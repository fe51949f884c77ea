import { createHmac, randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { metricValue, parseMetrics } from '../ops/ops-helpers.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { type JwtVerifySidecar, startJwtVerifySidecar } from '../support/ch-jwt-verify-sidecar.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startTestIdp, type TestIdp } from '../support/test-idp.js';
import { MCP_POST_HEADERS, okJson, rawHttp } from '../mcp/mcp-e2e-helpers.js';
import { chToken, JWE_SECRET, JWT_SECRET } from './jwe-http-helpers.js';

/**
 * Issue 17 "Must show" (resource server), through the real parts: a test IdP on loopback (OIDC discovery + JWKS of
 * `jose` keys), the gateway started as `node dist/main.js` builds it, the MCP SDK `Client`, and the real ClickHouse
 * 18.16 behind the ch-jwt-verify stand-in (18.16 cannot validate JWTs). Spec vectors: auth §5 21–28.
 */

const RESOURCE = 'https://mcp.example.com';
const SCOPES = 'openid email mcp:query';
const USERS = {
  'alice@example.com': { user: 'tester', password: 'secret' },
  'rob@example.com': { user: 'ro', password: 'ro' },
};
const EXACT_MISSING_CHALLENGE =
  'Bearer error="invalid_token", error_description="Authentication required", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="openid email"';

let idp: TestIdp;

/** Env of an OAuth resource-server gateway in front of `chPort` (the operator's user is never used). */
function oauthEnv(chPort: number, extra: Record<string, string> = {}): { flags: string[]; env: Record<string, string> } {
  return {
    flags: ['--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(chPort), '--metrics-enabled', '--openapi', 'http'],
    env: {
      MCP_OAUTH_ENABLED: 'true',
      MCP_OAUTH_ISSUER: idp.issuer,
      MCP_OAUTH_AUDIENCE: RESOURCE,
      MCP_OAUTH_PUBLIC_RESOURCE_URL: RESOURCE,
      MCP_OAUTH_SCOPES: 'openid,email',
      MCP_OAUTH_REQUIRED_SCOPES: 'openid,email,mcp:query',
      MCP_OAUTH_ROLE_CLAIM: 'roles',
      MCP_OAUTH_ROLE_FILTER: '^ch_',
      ...extra,
    },
  };
}

function token(claims: Record<string, unknown> = {}, options: Parameters<TestIdp['sign']>[1] = {}): Promise<string> {
  return idp.sign(RESOURCE, { ...options, claims: { sub: 'alice-1', email: 'alice@example.com', scope: SCOPES, roles: ['ch_reader', 'admin'], ...claims } });
}

async function sdkClient(url: string, bearer: string, path = ''): Promise<Client> {
  const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(path, url), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }));
  return client;
}

/** The ClickHouse user that ran a query, from its own row of `system.processes` (18.16 has no currentUser()). */
async function clickhouseUserOf(client: Client): Promise<string> {
  const marker = `whoami_${randomBytes(6).toString('hex')}`;
  const result = await client.callTool({ name: 'execute_query', arguments: { query: `SELECT user, '${marker}' AS m FROM system.processes WHERE query LIKE '%${marker}%'` } });
  const json = okJson(result) as { rows: unknown[][] };
  expect(json.rows).toHaveLength(1);
  return String(json.rows[0]![0]);
}

function mcpPost(url: string, headers: Record<string, string> = {}, path = '/') {
  return rawHttp(url, {
    path,
    headers: { ...MCP_POST_HEADERS, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1' } } }),
  });
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  idp = await startTestIdp();
});

afterAll(async () => {
  await idp?.close();
});

describe('OAuth resource server: verified bearers reach ClickHouse 18.16 through the ch-jwt-verify stand-in', () => {
  let sidecar: JwtVerifySidecar;
  let gw: TestGateway;

  beforeAll(async () => {
    sidecar = await startJwtVerifySidecar({ mode: 'basic', users: USERS, verify: (t) => idp.verify(t) });
    const { flags, env } = oauthEnv(sidecar.port);
    gw = await startGateway(flags, env);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await sidecar?.close();
  });

  beforeEach(() => {
    sidecar.seen.length = 0;
  });

  it('a good token: SDK Client tools/call execute_query runs as the mapped user; Bearer→Basic learnt once per endpoint', async () => {
    const client = await sdkClient(gw.url, await token());
    expect(await clickhouseUserOf(client)).toBe('tester');
    // The first request probed Bearer (refused by the Basic-only sidecar), then Basic: the method is now cached.
    expect(sidecar.seen[0]).toMatchObject({ scheme: 'Bearer', roles: [] });
    expect(sidecar.seen.some((s) => s.scheme === 'Basic' && s.basicUser === 'alice@example.com')).toBe(true);
    await client.close();

    sidecar.seen.length = 0;
    const rob = await sdkClient(gw.url, await token({ sub: 'rob-1', email: 'rob@example.com' }));
    expect(await clickhouseUserOf(rob)).toBe('ro');
    await rob.close();
    // Cached: no Bearer probe for the second caller, and every request is rob's own Basic credential.
    expect(sidecar.seen.length).toBeGreaterThan(0);
    expect(new Set(sidecar.seen.map((s) => `${s.scheme}:${s.basicUser}`))).toEqual(new Set(['Basic:rob@example.com']));
  });

  it('role activation: only the roles role_filter keeps go to ClickHouse as role=, on queries (not probes)', async () => {
    const client = await sdkClient(gw.url, await token({ roles: ['ch_reader', 'admin', 'ch_audit'] }));
    await clickhouseUserOf(client);
    await client.close();
    const queries = sidecar.seen.filter((s) => s.roles.length > 0);
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((s) => s.roles.join(',') === 'ch_reader,ch_audit')).toBe(true);
  });

  it('roles the filter does not allow: 403 access_denied before any ClickHouse I/O', async () => {
    const res = await mcpPost(gw.url, { Authorization: `Bearer ${await token({ roles: ['admin'] })}` });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({
      error: 'access_denied',
      error_description: 'oauth: access denied — no ClickHouse roles in claim "roles" matched role_filter',
    });
    expect(sidecar.seen).toEqual([]);
  });

  it('concurrent callers keep their own identity (per-request isolation)', async () => {
    const [alice, rob] = await Promise.all([sdkClient(gw.url, await token()), sdkClient(gw.url, await token({ sub: 'rob-1', email: 'rob@example.com' }))]);
    const users = await Promise.all(Array.from({ length: 6 }, (_, i) => clickhouseUserOf(i % 2 === 0 ? alice : rob)));
    expect(users).toEqual(['tester', 'ro', 'tester', 'ro', 'tester', 'ro']);
    await Promise.all([alice.close(), rob.close()]);
  });

  it('vector 25/28: no Authorization → 401 with the exact challenge and a JSON body', async () => {
    const res = await mcpPost(gw.url);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(EXACT_MISSING_CHALLENGE);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_token', error_description: 'Authentication required' });
  });

  it.each([
    ['wrong aud', () => idp.sign('https://other.example.com', { claims: { email: 'alice@example.com', scope: SCOPES, roles: ['ch_reader'] } }), 'OAuth token was not issued for this server (audience mismatch)'],
    ['wrong iss', () => token({ iss: 'http://127.0.0.1:1' }), 'OAuth token was issued by an issuer this server does not trust'],
    ['expired (1 h ago)', () => token({ exp: Math.floor(Date.now() / 1000) - 3600 }), 'OAuth token expired'],
    ['tampered payload', async () => {
      const [h, , s] = (await token()).split('.');
      return `${h}.${b64({ iss: idp.issuer, aud: RESOURCE, email: 'rob@example.com', scope: SCOPES, exp: 9_999_999_999 })}.${s}`;
    }, 'OAuth token signature is invalid'],
    ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: RESOURCE, email: 'alice@example.com', scope: SCOPES, exp: 9_999_999_999 })}.`, undefined],
    ['HS256 keyed with the public key', async () => {
      const header = b64({ alg: 'HS256', kid: idp.key.kid });
      const payload = b64({ iss: idp.issuer, aud: RESOURCE, email: 'alice@example.com', scope: SCOPES, exp: 9_999_999_999 });
      const mac = createHmac('sha256', JSON.stringify(idp.key.publicJwk)).update(`${header}.${payload}`).digest('base64url');
      return `${header}.${payload}.${mac}`;
    }, 'OAuth token signature is invalid'],
    ['signed by an unpublished key under the published kid', () => token({}, { key: idp.stranger }), 'OAuth token signature is invalid'],
    ['unknown kid', () => token({}, { header: { kid: 'rotated-away' } }), 'OAuth token is signed with a key the issuer does not publish'],
  ])('%s → 401 invalid_token with the challenge, nothing reaches ClickHouse', async (_name, make, description) => {
    const res = await mcpPost(gw.url, { Authorization: `Bearer ${await make()}` });
    expect(res.status).toBe(401);
    const challenge = String(res.headers['www-authenticate']);
    expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource", scope="openid email"$/);
    const body = JSON.parse(res.body) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_token');
    if (description) {
      expect(body.error_description).toBe(description);
      expect(challenge).toContain(`error_description="${description}"`);
    }
    expect(sidecar.seen).toEqual([]);
  });

  it('vector 24: expired 30 s ago is still inside the 60 s leeway', async () => {
    const client = await sdkClient(gw.url, await token({ exp: Math.floor(Date.now() / 1000) - 30 }));
    expect(await clickhouseUserOf(client)).toBe('tester');
    await client.close();
  });

  it('a missing required scope → 403 insufficient_scope naming every required scope', async () => {
    const res = await mcpPost(gw.url, { Authorization: `Bearer ${await token({ scope: 'openid email' })}` });
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="Insufficient OAuth scopes", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="openid email mcp:query"',
    );
    expect(JSON.parse(res.body)).toEqual({ error: 'insufficient_scope', error_description: 'Insufficient OAuth scopes' });
  });

  it('opaque bearers are refused by default (no soft-pass), and x-oauth-token is not a bearer', async () => {
    const opaque = await mcpPost(gw.url, { Authorization: 'Bearer opaque-access-token' });
    expect(opaque.status).toBe(401);
    expect(JSON.parse(opaque.body).error_description).toBe('OAuth token is not a JWT; this server only accepts signed JWT access tokens');
    const other = await mcpPost(gw.url, { 'x-oauth-token': await token() });
    expect(other.status).toBe(401);
    expect(other.headers['www-authenticate']).toBe(EXACT_MISSING_CHALLENGE);
  });

  it('the JWKS is fetched once and cached across requests', async () => {
    const before = idp.hits.filter((p) => p === '/jwks').length;
    for (let i = 0; i < 3; i++) expect((await mcpPost(gw.url, { Authorization: `Bearer ${await token()}` })).status).toBe(200);
    expect(idp.hits.filter((p) => p === '/jwks').length).toBe(before);
  });

  it('OpenAPI takes the bearer too (as altinity-mcp), verified, with Go\'s texts', async () => {
    const path = `/openapi/execute_query?query=${encodeURIComponent('SELECT 1 AS x')}`;
    const ok = await rawHttp(gw.url, { method: 'GET', path, headers: { Authorization: `Bearer ${await token()}` } });
    expect(ok.status).toBe(200);
    const missing = await rawHttp(gw.url, { method: 'GET', path });
    expect([missing.status, missing.body]).toEqual([401, 'Missing authentication token\n']);
    expect(missing.headers['www-authenticate']).toBe(EXACT_MISSING_CHALLENGE);
    const expired = await rawHttp(gw.url, { method: 'GET', path, headers: { Authorization: `Bearer ${await token({ exp: 1000 })}` } });
    expect([expired.status, expired.body]).toEqual([401, 'OAuth token expired\n']);
    const scope = await rawHttp(gw.url, { method: 'GET', path, headers: { Authorization: `Bearer ${await token({ scope: 'openid' })}` } });
    expect([scope.status, scope.body]).toEqual([403, 'Insufficient OAuth scopes\n']);
    const forged = await rawHttp(gw.url, { method: 'GET', path, headers: { Authorization: 'Bearer a.b.c' } });
    expect([forged.status, forged.body]).toEqual([401, 'Invalid OAuth token\n']);
  });

  it('PRM at the exact path and the path-aware variant, any method', async () => {
    for (const [method, path] of [
      ['GET', '/.well-known/oauth-protected-resource'],
      ['POST', '/.well-known/oauth-protected-resource'],
      ['GET', '/.well-known/oauth-protected-resource/mcp'],
    ] as const) {
      const res = await rawHttp(gw.url, { method, path });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.body)).toEqual({
        resource: 'https://mcp.example.com/',
        authorization_servers: [idp.issuer],
        scopes_supported: ['openid', 'email'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('/metrics counts auth outcomes by reason; /health says per_request_credentials without pinging', async () => {
    await mcpPost(gw.url);
    await mcpPost(gw.url, { Authorization: `Bearer ${await token({ exp: 1000 })}` });
    const metrics = await rawHttp(gw.url, { method: 'GET', path: '/metrics' });
    const samples = parseMetrics(metrics.body);
    expect(metricValue(samples, 'mcp_oauth_auth_total', { outcome: 'ok' })).toBeGreaterThan(0);
    expect(metricValue(samples, 'mcp_oauth_auth_total', { outcome: 'missing' })).toBeGreaterThan(0);
    expect(metricValue(samples, 'mcp_oauth_auth_total', { outcome: 'expired' })).toBeGreaterThan(0);
    expect(samples.filter((s) => s.name === 'mcp_oauth_auth_total').length).toBe(18);
    sidecar.seen.length = 0;
    const health = await rawHttp(gw.url, { method: 'GET', path: '/health' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ auth: 'per_request_credentials' });
    expect(sidecar.seen).toEqual([]);
  });

  it('the captured logs never contain a token', async () => {
    const secretToken = await token({ sub: 'log-probe' });
    await mcpPost(gw.url, { Authorization: `Bearer ${secretToken}` });
    await mcpPost(gw.url, { Authorization: `Bearer ${secretToken.slice(0, -4)}AAAA` });
    const logs = gw.logs.join('\n');
    expect(logs).not.toContain(secretToken.split('.')[2]!);
    expect(logs).not.toContain(secretToken.split('.')[1]!);
  });
});

describe('OAuth resource server in front of a JWT-capable ClickHouse (Bearer), with allow_opaque_tokens', () => {
  let sidecar: JwtVerifySidecar;
  let gw: TestGateway;

  beforeAll(async () => {
    sidecar = await startJwtVerifySidecar({
      mode: 'bearer',
      users: USERS,
      verify: (t) => idp.verify(t),
      opaqueTokens: { 'opaque-access-token-for-rob': 'rob@example.com' },
    });
    const { flags, env } = oauthEnv(sidecar.port, { MCP_OAUTH_ALLOW_OPAQUE_TOKENS: 'true', MCP_OAUTH_ROLE_CLAIM: '', MCP_OAUTH_ROLE_FILTER: '' });
    gw = await startGateway(flags, env);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await sidecar?.close();
  });

  it('Bearer is kept for a JWT-capable endpoint (no Basic), the verified JWT is what ClickHouse sees', async () => {
    const client = await sdkClient(gw.url, await token());
    expect(await clickhouseUserOf(client)).toBe('tester');
    await client.close();
    expect(sidecar.seen.length).toBeGreaterThan(0);
    expect(sidecar.seen.every((s) => s.scheme === 'Bearer')).toBe(true);
  });

  it('vector 23 (opt-in): an opaque bearer is soft-passed to ClickHouse as Bearer, which judges it', async () => {
    const client = await sdkClient(gw.url, 'opaque-access-token-for-rob');
    expect(await clickhouseUserOf(client)).toBe('ro');
    await client.close();
    // ClickHouse (the stand-in) refuses an opaque token it does not know: the endpoint's method is cached, so the
    // refusal comes back as the tool's error (as in altinity-mcp), never with the token in it.
    const unknown = await mcpPost(gw.url, { Authorization: 'Bearer opaque-nobody-knows' });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatch(/"isError":true/);
    expect(unknown.body).toMatch(/AUTHENTICATION_FAILED|rejected/);
    expect(unknown.body).not.toContain('opaque-nobody-knows');
    // A JWT is still verified: a forged one does not become "opaque".
    const [h, , s] = (await token()).split('.');
    const forged = await mcpPost(gw.url, { Authorization: `Bearer ${h}.${b64({ email: 'rob@example.com' })}.${s}` });
    expect(forged.status).toBe(401);
  });
});

describe('JWE and OAuth together (auth §1.5(2), upstream §C)', () => {
  let sidecar: JwtVerifySidecar;
  let gw: TestGateway;

  beforeAll(async () => {
    sidecar = await startJwtVerifySidecar({ mode: 'basic', users: USERS, verify: (t) => idp.verify(t) });
    const { flags, env } = oauthEnv(sidecar.port, { MCP_OAUTH_ROLE_CLAIM: '', MCP_OAUTH_ROLE_FILTER: '' });
    gw = await startGateway(['--allow-jwe-auth', '--jwe-secret-key', JWE_SECRET, '--jwt-secret-key', JWT_SECRET, ...flags], env);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await sidecar?.close();
  });

  beforeEach(() => {
    sidecar.seen.length = 0;
  });

  it('vector 21: a path JWE without username and no bearer → 401 with the OAuth challenge', async () => {
    const partial = await chToken('', undefined, { username: undefined as never });
    const res = await mcpPost(gw.url, {}, `/${partial}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('resource_metadata=');
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('vector 22: a complete path JWE and no bearer → 200, the JWE\'s own connection (not the operator\'s)', async () => {
    const complete = await chToken('ro', 'ro');
    const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`/${complete}`, gw.url)));
    expect(await clickhouseUserOf(client)).toBe('ro');
    await client.close();
    expect(sidecar.seen).toEqual([]);
    expect(CH_TEST_PORT).not.toBe(sidecar.port);
    expect(CH_TEST_HOST).toBeTruthy();
  });

  it('a complete JWE wins over a bearer; a partial JWE with a good bearer uses OAuth on the operator endpoint', async () => {
    const complete = await chToken('ro', 'ro');
    const jweWins = await sdkClient(gw.url, await token(), `/${complete}`);
    expect(await clickhouseUserOf(jweWins)).toBe('ro');
    await jweWins.close();
    expect(sidecar.seen).toEqual([]);

    const partial = await chToken('', undefined, { username: undefined as never, port: 1 });
    const viaOAuth = await sdkClient(gw.url, await token(), `/${partial}`);
    expect(await clickhouseUserOf(viaOAuth)).toBe('tester');
    await viaOAuth.close();
    expect(sidecar.seen.some((s) => s.basicUser === 'alice@example.com')).toBe(true);
  });

  it('a bad JWE is refused even with a good bearer; the Authorization header is never read as a JWE', async () => {
    const bad = await mcpPost(gw.url, { Authorization: `Bearer ${await token()}` }, '/not-a-jwe-token');
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe(EXACT_MISSING_CHALLENGE);
    const jweAsBearer = await mcpPost(gw.url, { Authorization: `Bearer ${await chToken('ro', 'ro')}` });
    expect(jweAsBearer.status).toBe(401);
    const keyHeader = await mcpPost(gw.url, { 'x-altinity-mcp-key': await chToken('ro', 'ro') });
    expect(keyHeader.status).toBe(200);
  });

  it('a bearer alone (no JWE) works at the root', async () => {
    const client = await sdkClient(gw.url, await token());
    expect(await clickhouseUserOf(client)).toBe('tester');
    await client.close();
  });
});

describe('OAuth off', () => {
  it('PRM answers 404 page not found on both paths', async () => {
    const gw = await startGateway(['--clickhouse-host', CH_TEST_HOST, '--clickhouse-port', String(CH_TEST_PORT)]);
    try {
      for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
        const res = await rawHttp(gw.url, { method: 'GET', path });
        expect([res.status, res.body]).toEqual([404, '404 page not found\n']);
      }
    } finally {
      await gw.close();
    }
  });
});
