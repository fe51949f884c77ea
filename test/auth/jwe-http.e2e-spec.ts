import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintJweToken } from '../../src/auth/jwe/jwe-token.js';
import { metricValue, parseMetrics } from '../ops/ops-helpers.js';
import { chQuery, CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { MCP_POST_HEADERS, okJson, rawHttp } from '../mcp/mcp-e2e-helpers.js';
import { Canary, chToken, encryptRaw, JWE_SECRET, jweFlags, JWT_SECRET } from './jwe-http-helpers.js';

/**
 * Issue 16 "Must show", on the real ClickHouse 18.16: JWE tokens at `/{token}` and `/{token}/sse` run queries
 * as the token's user (proven from `system.processes`), never with the operator's credentials; refused tokens
 * are 401 before any ClickHouse I/O (a canary listener the tokens point at sees no connection).
 */

const RUN = randomBytes(4).toString('hex');
const DB = `jwe_http_${RUN}`;

async function sdkClient(url: URL, sse = false): Promise<Client> {
  const client = new Client({ name: 'jwe-e2e', version: '1.0.0' });
  await client.connect(sse ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url));
  return client;
}

/** The ClickHouse user that ran a query: it reads its own row of `system.processes` (18.16 has no currentUser()). */
async function clickhouseUserOf(client: Client): Promise<string> {
  const marker = `whoami_${randomBytes(6).toString('hex')}`;
  const result = await client.callTool({ name: 'execute_query', arguments: { query: `SELECT user, '${marker}' AS m FROM system.processes WHERE query LIKE '%${marker}%'` } });
  const json = okJson(result) as { rows: unknown[][] };
  expect(json.rows).toHaveLength(1);
  return String(json.rows[0]![0]);
}

function toolCall(url: string, path: string, query: string, headers: Record<string, string> = {}) {
  return rawHttp(url, {
    path,
    headers: { ...MCP_POST_HEADERS, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } }),
  });
}

describe('JWE over HTTP (streamable HTTP, OpenAPI)', () => {
  let gw: TestGateway;
  const canary = new Canary();

  beforeAll(async () => {
    await canary.start();
    gw = await startGateway(jweFlags(['--openapi', 'http', '--metrics-enabled']));
    await chQuery(`CREATE DATABASE IF NOT EXISTS ${DB}`);
    await chQuery(`CREATE TABLE ${DB}.t (x UInt8) ENGINE = Memory`);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await canary.stop();
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  });

  it('a tester/secret token runs execute_query at /{token} as ClickHouse user tester', async () => {
    const token = await chToken('tester', 'secret');
    const client = await sdkClient(new URL(`/${token}`, gw.url));
    try {
      expect(await clickhouseUserOf(client)).toBe('tester');
    } finally {
      await client.close();
    }
  });

  it("the operator's credentials are never used for a token: a `default` token without password runs as default", async () => {
    // The operator is configured as tester/secret; a token that names `default` and no password must not
    // inherit `secret` (ClickHouse would refuse default with a wrong password) nor run as tester.
    const token = await chToken('default', undefined);
    const client = await sdkClient(new URL(`/${token}`, gw.url));
    try {
      expect(await clickhouseUserOf(client)).toBe('default');
    } finally {
      await client.close();
    }
  });

  it('headers carry tokens too: Authorization Bearer/Basic and x-altinity-mcp-key at the pathless /', async () => {
    const token = await chToken('tester', 'secret');
    const variants: Array<Record<string, string>> = [{ Authorization: `Bearer ${token}` }, { Authorization: `Basic ${token}` }, { 'x-altinity-mcp-key': token }];
    for (const headers of variants) {
      const res = await toolCall(gw.url, '/', 'SELECT 42 AS answer', headers);
      expect(res.status).toBe(200);
      expect(res.body).toContain('42');
    }
  });

  it("a token's `limit` claim caps its rows (the operator's legacy `limit` does not apply to a token)", async () => {
    const token = await chToken('tester', 'secret', { limit: 3 });
    const res = await toolCall(gw.url, `/${token}`, 'SELECT number FROM numbers(10)');
    expect(res.status).toBe(200);
    const message = res.body.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length);
    const result = JSON.parse(message).result;
    const body = JSON.parse(result.content[0].text);
    expect(body.rows).toEqual([[0], [1], [2]]);
    expect(body.truncated).toMatchObject({ reason: 'max_result_rows', limit: 3 });
  });

  it('an ro/ro token cannot write: ClickHouse refuses, and the table stays empty', async () => {
    const token = await chToken('ro', 'ro');
    const client = await sdkClient(new URL(`/${token}`, gw.url));
    try {
      expect(await clickhouseUserOf(client)).toBe('ro');
      const write = await client.callTool({ name: 'write_query', arguments: { query: `INSERT INTO ${DB}.t VALUES (1)` } });
      expect(write.isError).toBe(true);
      const create = await client.callTool({ name: 'write_query', arguments: { query: `CREATE TABLE ${DB}.evil (x UInt8) ENGINE = Memory` } });
      expect(create.isError).toBe(true);
    } finally {
      await client.close();
    }
    expect((await chQuery(`SELECT count() FROM ${DB}.t`)).trim()).toBe('0');
    expect((await chQuery(`SELECT count() FROM system.tables WHERE database = '${DB}' AND name = 'evil'`)).trim()).toBe('0');
  });

  it('refused tokens get 401 before any ClickHouse I/O: expired, tampered, disallowed claim, missing host, wrong JWT secret', async () => {
    const hour = Math.floor(Date.now() / 1000) + 3600;
    const atCanary = { host: '127.0.0.1', port: canary.port, username: 'default', exp: hour };
    const secrets = { jweSecretKey: JWE_SECRET, jwtSecretKey: JWT_SECRET };
    const good = await mintJweToken(atCanary, secrets);
    const parts = good.split('.');
    const tamperedCiphertext = [...parts.slice(0, 3), `${parts[3]![0] === 'A' ? 'B' : 'A'}${parts[3]!.slice(1)}`, parts[4]].join('.');
    const refused: Record<string, { token: string; outcome: string; text: RegExp }> = {
      expired: { token: await mintJweToken({ ...atCanary, exp: hour - 7200 }, secrets), outcome: 'expired', text: /invalid JWE token/ },
      tampered: { token: tamperedCiphertext, outcome: 'bad_signature', text: /invalid JWE token/ },
      disallowedClaim: {
        token: await encryptRaw(JSON.stringify({ ...atCanary, evil: 1 })),
        outcome: 'disallowed_claim',
        text: /disallowed claim key 'evil'/,
      },
      missingHost: {
        token: await encryptRaw(JSON.stringify({ port: canary.port, username: 'default', exp: hour })),
        outcome: 'missing_claim',
        text: /jwe: token must carry host and username claims/,
      },
      wrongJwtSecret: { token: await mintJweToken(atCanary, { jweSecretKey: JWE_SECRET, jwtSecretKey: 'not-the-jwt-secret' }), outcome: 'bad_signature', text: /invalid JWE token/ },
    };
    const before = parseMetrics(await (await fetch(new URL('/metrics', gw.url))).text());
    for (const [name, { token, text }] of Object.entries(refused)) {
      const res = await toolCall(gw.url, `/${token}`, 'SELECT 1');
      expect(res.status, name).toBe(401);
      expect(res.headers['www-authenticate'], name).toMatch(/^Bearer realm="clickhouse-mcp-gateway", error="invalid_token"$/);
      expect(JSON.parse(res.body).error.message, name).toMatch(text);
      expect(res.body, name).not.toContain(token);
    }
    expect(canary.connections).toBe(0);
    const after = parseMetrics(await (await fetch(new URL('/metrics', gw.url))).text());
    for (const outcome of ['expired', 'disallowed_claim', 'missing_claim']) {
      expect(metricValue(after, 'mcp_jwe_auth_total', { outcome }) - metricValue(before, 'mcp_jwe_auth_total', { outcome }), outcome).toBe(1);
    }
    expect(metricValue(after, 'mcp_jwe_auth_total', { outcome: 'bad_signature' }) - metricValue(before, 'mcp_jwe_auth_total', { outcome: 'bad_signature' })).toBe(2);

    // The control: the same token untampered does reach the canary (so a 0 above means something).
    await toolCall(gw.url, `/${good}`, 'SELECT 1');
    expect(canary.connections).toBeGreaterThan(0);
  });

  it('no token at all: 401 `missing JWE token`; unknown deeper paths 404; literal routes still win', async () => {
    const missing = await toolCall(gw.url, '/', 'SELECT 1');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="clickhouse-mcp-gateway"');
    expect(JSON.parse(missing.body).error.message).toBe('Unauthorized: missing JWE token');
    expect((await toolCall(gw.url, '/a/b', 'SELECT 1')).status).toBe(404);
    expect((await rawHttp(gw.url, { method: 'GET', path: '/health' })).status).toBe(200);
    expect((await rawHttp(gw.url, { method: 'GET', path: '/metrics' })).status).toBe(200);
    // Disabled generator: 404 (not an MCP endpoint taking `jwe-token-generator` as a token).
    expect((await rawHttp(gw.url, { method: 'POST', path: '/jwe-token-generator', body: '{}' })).status).toBe(404);
  });

  it('tokens stay out of logs and metrics: the route label is /{token}', async () => {
    const token = await chToken('tester', 'secret');
    expect((await toolCall(gw.url, `/${token}`, 'SELECT 1')).status).toBe(200);
    expect((await toolCall(gw.url, `/${token.slice(0, -5)}`, 'SELECT 1')).status).toBe(401);
    const metrics = await (await fetch(new URL('/metrics', gw.url))).text();
    expect(metrics).toMatch(/route="\/\{token\}"/);
    expect(metrics).not.toContain(token.slice(0, 40));
    const logs = gw.logs.join('\n');
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.slice(0, -5));
    for (const part of token.split('.').filter((p) => p.length > 20)) expect(logs).not.toContain(part);
    expect(logs).not.toContain(JWE_SECRET);
  });

  it('OpenAPI: /{token}/openapi/execute_query runs as the token user; the /openapi schema needs authentication', async () => {
    const token = await chToken('tester', 'secret');
    const marker = `oa_${RUN}`;
    const q = encodeURIComponent(`SELECT user, '${marker}' FROM system.processes WHERE query LIKE '%${marker}%'`);
    const ran = await rawHttp(gw.url, { method: 'GET', path: `/${token}/openapi/execute_query?query=${q}` });
    expect(ran.status).toBe(200);
    expect(JSON.parse(ran.body).rows[0][0]).toBe('tester');

    const anonymous = await rawHttp(gw.url, { method: 'GET', path: '/openapi' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toBe('Missing authentication token\n');
    const bad = await rawHttp(gw.url, { method: 'GET', path: '/openapi', headers: { 'x-altinity-mcp-key': 'garbage' } });
    expect(bad.status).toBe(401);
    expect(bad.body).toBe('Invalid authentication token\n');
    const incomplete = await encryptRaw(JSON.stringify({ username: 'u' }));
    const partial = await rawHttp(gw.url, { method: 'GET', path: '/openapi/execute_query?query=SELECT%201', headers: { 'x-altinity-mcp-key': incomplete } });
    expect(partial.status).toBe(401);
    expect(partial.body).toBe('jwe: token must carry host and username claims\n');

    const schema = await rawHttp(gw.url, { method: 'GET', path: '/openapi', headers: { Authorization: `Bearer ${token}` } });
    expect(schema.status).toBe(200);
    const doc = JSON.parse(schema.body) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/{jwe_token}/openapi/execute_query');
    expect(Object.keys(doc.paths)).not.toContain('/openapi/execute_query');
    const tokenSchema = await rawHttp(gw.url, { method: 'GET', path: `/${token}/openapi` });
    expect(tokenSchema.status).toBe(200);
  });
});

describe('JWE over legacy SSE', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway(jweFlags(['--transport', 'sse']));
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  it('a tester/secret token runs execute_query over /{token}/sse as ClickHouse user tester', async () => {
    const token = await chToken('tester', 'secret');
    const client = await sdkClient(new URL(`/${token}/sse`, gw.url), true);
    try {
      expect(await clickhouseUserOf(client)).toBe('tester');
    } finally {
      await client.close();
    }
  });

  it('the stream refuses a bad token with 401; a session is bound to the token that opened it', async () => {
    const refused = await rawHttp(gw.url, { method: 'GET', path: '/not-a-token/sse' });
    expect(refused.status).toBe(401);
    expect((await rawHttp(gw.url, { method: 'GET', path: '/sse' })).status).toBe(401);

    // Open a session with token A, then post into it with a valid token B: no such session for B.
    const tokenA = await chToken('tester', 'secret');
    const tokenB = await chToken('default', undefined);
    const abort = new AbortController();
    const stream = await fetch(new URL(`/${tokenA}/sse`, gw.url), { signal: abort.signal });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('sessionId=')) text += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(text)![1]!;
    expect(endpoint.startsWith(`/${tokenA}/sse?sessionId=`)).toBe(true);
    const sessionId = new URL(endpoint, gw.url).searchParams.get('sessionId')!;
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const foreign = await rawHttp(gw.url, { path: `/${tokenB}/sse?sessionId=${sessionId}`, headers: { 'Content-Type': 'application/json' }, body: ping });
    expect(foreign.status).toBe(404);
    const own = await rawHttp(gw.url, { path: `/${tokenA}/sse?sessionId=${sessionId}`, headers: { 'Content-Type': 'application/json' }, body: ping });
    expect(own.status).toBe(202);
    abort.abort();
  });
});

describe('JWE off: nothing changes', () => {
  it('every path is still MCP and no JWE series is exported', async () => {
    const gw = await startGateway(['--clickhouse-host', CH_TEST_HOST, '--clickhouse-port', String(CH_TEST_PORT), '--metrics-enabled']);
    try {
      const res = await toolCall(gw.url, '/some/deep/path', 'SELECT 7 AS seven');
      expect(res.status).toBe(200);
      expect(res.body).toContain('7');
      const metrics = await (await fetch(new URL('/metrics', gw.url))).text();
      expect(metrics).not.toContain('mcp_jwe_auth_total');
    } finally {
      await gw.close();
    }
  });
});

describe('JWE and the rate limiter', () => {
  it('the guard runs first: each token is its own budget, whatever the address', async () => {
    const gw = await startGateway(jweFlags(['--rate-limit-requests-per-minute', '2']));
    try {
      const [a, b] = await Promise.all([chToken('tester', 'secret'), chToken('default', undefined)]);
      expect((await toolCall(gw.url, `/${a}`, 'SELECT 1')).status).toBe(200);
      expect((await toolCall(gw.url, `/${a}`, 'SELECT 1')).status).toBe(200);
      expect((await toolCall(gw.url, `/${a}`, 'SELECT 1')).status).toBe(429);
      // Same client address, another token: a fresh budget (with an address-keyed limiter this would be 429).
      expect((await toolCall(gw.url, `/${b}`, 'SELECT 1')).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
