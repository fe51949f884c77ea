import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MULTICLUSTER_RELOAD_WARNING } from '../../src/config/config.store.js';
import { ConfigStore } from '../../src/config/config.store.js';
import { chQuery } from '../setup/clickhouse-server.js';
import { errorText, okJson, tempConfig } from '../mcp/mcp-e2e-helpers.js';
import { type JwtVerifySidecar, startJwtVerifySidecar } from '../support/ch-jwt-verify-sidecar.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startTestIdp, type TestIdp } from '../support/test-idp.js';

/**
 * Issue 18 (multicluster routing) through the real parts: two extra ClickHouse 18.16 servers on 127.0.0.2 and
 * 127.0.0.3 (own data dirs and ports, started and stopped here with scripts/clickhouse-test-server.sh), each
 * behind a ch-jwt-verify stand-in listening on the same port on its own address, so the host template
 * `127.0.0.{cluster}` with allowlist [2, 3] reaches a different server per cluster. The stand-in on .2 accepts
 * Basic only (a stock ClickHouse behind the sidecar), the one on .3 Bearer only (a JWT-capable build): the
 * gateway must learn the wire format per cluster host. A test IdP signs the bearers; the gateway runs in-process.
 */

const SCRIPT = fileURLToPath(new URL('../../scripts/clickhouse-test-server.sh', import.meta.url));
const RESOURCE = 'https://mcp.example.com';
const USERS = { 'alice@example.com': { user: 'tester', password: 'secret' } };
const SUFFIX = randomBytes(4).toString('hex');
const ONLY_ON_2 = `mc_only_on_2_${SUFFIX}`;
const ONLY_ON_3 = `mc_only_on_3_${SUFFIX}`;
// Dynamic tools on cluster 2: alice (tester) may read both databases, bob (analyst) only the sales one.
const SALES_DB = `mc_sales_${SUFFIX}`;
const HR_DB = `mc_hr_${SUFFIX}`;
const ANALYST_XML =
  `<analyst><password>analyst-pw</password><networks><ip>127.0.0.0/8</ip></networks><profile>default</profile><quota>default</quota>` +
  `<allow_databases><database>${SALES_DB}</database></allow_databases></analyst>`;
const CATALOG_USERS = {
  ...USERS,
  'bob@example.com': { user: 'analyst', password: 'analyst-pw' },
  // carol's token verifies, but no ClickHouse user is mapped to her: ClickHouse refuses her (516).
};

interface ExtraClickHouse {
  address: string;
  httpPort: number;
  dir: string;
  url: string;
}

const CLUSTERS: Record<'2' | '3', ExtraClickHouse> = {
  '2': { address: '127.0.0.2', httpPort: 28_124, dir: `/tmp/ch-mc-2-${process.pid}`, url: 'http://127.0.0.2:28124' },
  '3': { address: '127.0.0.3', httpPort: 28_125, dir: `/tmp/ch-mc-3-${process.pid}`, url: 'http://127.0.0.3:28125' },
};

function clickhouseScript(action: 'start' | 'stop', ch: ExtraClickHouse): void {
  execFileSync('bash', [SCRIPT, action], {
    stdio: 'pipe',
    env: { ...process.env, CH_LISTEN_HOST: ch.address, CH_HTTP_PORT: String(ch.httpPort), CH_TCP_PORT: String(ch.httpPort + 1000), CH_DIR: ch.dir, CH_EXTRA_USERS: ANALYST_XML },
  });
}

let idp: TestIdp;
const sidecars: Record<'2' | '3', JwtVerifySidecar> = {} as Record<'2' | '3', JwtVerifySidecar>;
let sidecarPort: number;
let bearer: string;

function multiclusterEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    MCP_OAUTH_ENABLED: 'true',
    MCP_OAUTH_ISSUER: idp.issuer,
    MCP_OAUTH_AUDIENCE: RESOURCE,
    MCP_OAUTH_PUBLIC_RESOURCE_URL: RESOURCE,
    MCP_OAUTH_SCOPES: 'openid,email',
    MCP_MULTICLUSTER_ENABLED: 'true',
    ...extra,
  };
}

const CONFIG_YAML = (allowlist: string) => `clickhouse:\n  host: "127.0.0.{cluster}"\nmulticluster:\n  enabled: true\n  cluster_allowlist: [${allowlist}]\n`;

async function sdkClient(url: string, path: string, token = bearer): Promise<Client> {
  const client = new Client({ name: 'multicluster-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(path, url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One exchange with the path sent byte for byte (WHATWG URL parsing would fold `..` and case-fold nothing else). */
function raw(gatewayUrl: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const { hostname, port } = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: options.method ?? 'POST', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const TOOL_CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1' } } });

function mcpPost(gatewayUrl: string, path: string, token?: string): Promise<Answer> {
  return raw(gatewayUrl, path, {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: TOOL_CALL,
  });
}

function expectGoNotFound(answer: Answer): void {
  expect(answer.status).toBe(404);
  expect(answer.body).toBe('404 page not found\n');
  expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
}

function sidecarRequests(): number {
  return sidecars['2'].seen.length + sidecars['3'].seen.length;
}

beforeAll(async () => {
  // Both extra servers start in parallel with the IdP (each takes about half a second).
  await Promise.all([
    ...Object.values(CLUSTERS).map(
      (ch) =>
        new Promise<void>((resolve, reject) => {
          try {
            clickhouseScript('start', ch);
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        }),
    ),
  ]);
  idp = await startTestIdp();
  await chQuery(`CREATE TABLE default.${ONLY_ON_2} (cluster String) ENGINE = Memory`, { url: CLUSTERS['2'].url });
  await chQuery(`INSERT INTO default.${ONLY_ON_2} VALUES ('two')`, { url: CLUSTERS['2'].url });
  await chQuery(`CREATE TABLE default.${ONLY_ON_3} (cluster String) ENGINE = Memory`, { url: CLUSTERS['3'].url });
  await chQuery(`INSERT INTO default.${ONLY_ON_3} VALUES ('three')`, { url: CLUSTERS['3'].url });
  for (const db of [SALES_DB, HR_DB]) await chQuery(`CREATE DATABASE ${db}`, { url: CLUSTERS['2'].url });
  await chQuery(`CREATE VIEW ${SALES_DB}.sales_report AS SELECT 1 AS n`, { url: CLUSTERS['2'].url });
  await chQuery(`CREATE VIEW ${HR_DB}.hr_report AS SELECT 2 AS n`, { url: CLUSTERS['2'].url });
  for (const db of [SALES_DB, HR_DB]) await chQuery(`CREATE DATABASE ${db}`, { url: CLUSTERS['3'].url });
  await chQuery(`CREATE VIEW ${SALES_DB}.sales_report AS SELECT 3 AS n`, { url: CLUSTERS['3'].url });
  const verify = (t: string) => idp.verify(t);
  sidecars['2'] = await startJwtVerifySidecar({ mode: 'basic', users: CATALOG_USERS, verify, listen: { host: '127.0.0.2' }, target: { host: '127.0.0.2', port: CLUSTERS['2'].httpPort } });
  sidecarPort = sidecars['2'].port;
  sidecars['3'] = await startJwtVerifySidecar({ mode: 'bearer', users: CATALOG_USERS, verify, listen: { host: '127.0.0.3', port: sidecarPort }, target: { host: '127.0.0.3', port: CLUSTERS['3'].httpPort } });
  bearer = await idp.sign(RESOURCE, { claims: { sub: 'alice-1', email: 'alice@example.com', scope: 'openid email' } });
}, 60_000);

afterAll(async () => {
  await Promise.all([sidecars['2']?.close(), sidecars['3']?.close(), idp?.close()]);
  for (const ch of Object.values(CLUSTERS)) {
    clickhouseScript('stop', ch);
    rmSync(ch.dir, { recursive: true, force: true });
  }
});

describe('multicluster: /mcp/{cluster} in front of two ClickHouse servers', () => {
  let gw: TestGateway;
  let config: { path: string; cleanup: () => void };

  beforeAll(async () => {
    config = tempConfig(CONFIG_YAML('"2", "3"'));
    gw = await startGateway(['--config', config.path, '--clickhouse-port', String(sidecarPort), '--metrics-enabled'], multiclusterEnv());
  });

  afterAll(async () => {
    await gw?.close();
    config?.cleanup();
  });

  beforeEach(() => {
    sidecars['2'].seen.length = 0;
    sidecars['3'].seen.length = 0;
  });

  it('one token works on both clusters; each answers only its own data, over its own host', async () => {
    const two = await sdkClient(gw.url, '/mcp/2');
    let three: Client | undefined;
    try {
      expect(okJson(await two.callTool({ name: 'execute_query', arguments: { query: `SELECT cluster FROM default.${ONLY_ON_2}` } })).rows).toEqual([['two']]);
      // Identity probe (Bearer refused, then Basic) and the query: all on 127.0.0.2, nothing on 127.0.0.3.
      expect(sidecars['3'].seen).toEqual([]);
      expect(sidecars['2'].seen.map((s) => s.scheme).slice(0, 2)).toEqual(['Bearer', 'Basic']);

      three = await sdkClient(gw.url, '/mcp/3');
      expect(sidecars['3'].seen.length).toBeGreaterThan(0);
      expect(okJson(await three.callTool({ name: 'execute_query', arguments: { query: `SELECT cluster FROM default.${ONLY_ON_3}` } })).rows).toEqual([['three']]);
      // The table of cluster 2 does not exist on cluster 3, and the reverse.
      expect(errorText(await three.callTool({ name: 'execute_query', arguments: { query: `SELECT cluster FROM default.${ONLY_ON_2}` } }))).toMatch(/doesn't exist|UNKNOWN_TABLE|Code: 60/);
      expect(errorText(await two.callTool({ name: 'execute_query', arguments: { query: `SELECT cluster FROM default.${ONLY_ON_3}` } }))).toMatch(/doesn't exist|UNKNOWN_TABLE|Code: 60/);
    } finally {
      await Promise.all([two.close(), three?.close()]);
    }
  });

  it('the Bearer/Basic method is probed and remembered per cluster host', async () => {
    // A fresh token: its identity is resolved anew on each cluster (the method cache itself is per host).
    const token = await idp.sign(RESOURCE, { claims: { sub: 'alice-2', email: 'alice@example.com', scope: 'openid email', jti: randomBytes(4).toString('hex') } });
    const two = await sdkClient(gw.url, '/mcp/2', token);
    const three = await sdkClient(gw.url, '/mcp/3', token);
    try {
      await two.callTool({ name: 'execute_query', arguments: { query: 'SELECT 2' } });
      await three.callTool({ name: 'execute_query', arguments: { query: 'SELECT 3' } });
    } finally {
      await Promise.all([two.close(), three.close()]);
    }
    // .2 takes Basic only: every request there is Basic (its method was learnt by the first test's probe);
    // .3 takes Bearer only: nothing but Bearer ever reached it.
    expect(new Set(sidecars['2'].seen.map((s) => s.scheme))).toEqual(new Set(['Basic']));
    expect(new Set(sidecars['3'].seen.map((s) => s.scheme))).toEqual(new Set(['Bearer']));
    expect(sidecars['2'].seen.every((s) => s.basicUser === 'alice@example.com')).toBe(true);
  });

  it('an upper-case /MCP/ prefix is resolved like /mcp/ (Express routes both): never the base configuration', async () => {
    const lower = await mcpPost(gw.url, '/mcp/4');
    const upper = await mcpPost(gw.url, '/MCP/4');
    expect(upper.status).toBe(401);
    expect(upper.body).toBe(lower.body);
    expectGoNotFound(await mcpPost(gw.url, '/MCP/4', bearer));
    expect(sidecarRequests()).toBe(0);
  });

  it('an unknown (valid, not allowlisted) cluster gets exactly the unauthenticated challenge; a verified bearer learns 404', async () => {
    const known = await mcpPost(gw.url, '/mcp/2');
    const unknown = await mcpPost(gw.url, '/mcp/4');
    expect(known.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toBe(known.body);
    // vector 26: the per-cluster PRM on the serving host, upgraded to https because the resource is https.
    const host = new URL(gw.url).host;
    expect(known.headers['www-authenticate']).toBe(
      `Bearer error="invalid_token", error_description="Authentication required", resource_metadata="https://${host}/mcp/2/.well-known/oauth-protected-resource", scope="openid email"`,
    );
    expect(unknown.headers['www-authenticate']).toBe(String(known.headers['www-authenticate']).replace('/mcp/2/', '/mcp/4/'));
    // A bad bearer: the same refusal on both.
    const badKnown = await mcpPost(gw.url, '/mcp/2', 'not-a-jwt');
    const badUnknown = await mcpPost(gw.url, '/mcp/4', 'not-a-jwt');
    expect([badKnown.status, badUnknown.status]).toEqual([401, 401]);
    expect(badUnknown.body).toBe(badKnown.body);

    expectGoNotFound(await mcpPost(gw.url, '/mcp/4', bearer));
    expect(sidecarRequests()).toBe(0);
  });

  it.each([
    ['upper case', '/mcp/Two'],
    ['a dot', '/mcp/127.0.0.2'],
    ['a percent-escape', '/mcp/%32'],
    ['an encoded slash', '/mcp/2%2F..%2F3'],
    ['dot-dot', '/mcp/..'],
    ['dot-dot in the subtree', '/mcp/../mcp/2'],
    ['64 characters', `/mcp/${'a'.repeat(64)}`],
    ['an empty name', '/mcp/'],
    ['an empty name in the subtree', '/mcp//x'],
    ['an underscore', '/mcp/my_cluster'],
    ['an upper-case prefix (Express routes it too)', '/MCP/Two'],
    ['an upper-case prefix and dot-dot', '/Mcp/..'],
  ])('a malformed name (%s) is a plain 404 before auth, and ClickHouse sees nothing', async (_what, path) => {
    const hitsBefore = idp.hits.length;
    expectGoNotFound(await mcpPost(gw.url, path, bearer));
    expectGoNotFound(await mcpPost(gw.url, path));
    expect(sidecarRequests()).toBe(0);
    expect(idp.hits.length).toBe(hitsBefore);
  });

  it('only the multicluster routes exist: /, SSE, OpenAPI, the generator and /{token} are Go 404s', async () => {
    for (const path of ['/', '/sse', '/openapi', '/openapi/execute_query', '/jwe-token-generator', '/some-token', '/mcp']) {
      expectGoNotFound(await raw(gw.url, path, { method: 'GET' }));
      expectGoNotFound(await mcpPost(gw.url, path, bearer));
    }
    expect((await raw(gw.url, '/livez', { method: 'GET' })).status).toBe(200);
    expect((await raw(gw.url, '/health', { method: 'GET' })).status).toBe(200);
    expect(sidecarRequests()).toBe(0);
  });

  it('per-cluster PRM at both routes (GET and HEAD); malformed names 404; unknown names are not revealed', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp/2', '/mcp/3/.well-known/oauth-protected-resource', '/mcp/4/.well-known/oauth-protected-resource']) {
      const got = await raw(gw.url, path, { method: 'GET' });
      expect(got.status).toBe(200);
      expect(JSON.parse(got.body)).toMatchObject({ resource: `${RESOURCE}/`, authorization_servers: [idp.issuer], bearer_methods_supported: ['header'] });
      const head = await raw(gw.url, path, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
    }
    expectGoNotFound(await raw(gw.url, '/.well-known/oauth-protected-resource/mcp/Bad', { method: 'GET' }));
    expectGoNotFound(await raw(gw.url, '/mcp/a.b/.well-known/oauth-protected-resource', { method: 'GET' }));
    expect((await raw(gw.url, '/mcp/2/.well-known/oauth-protected-resource', { method: 'POST' })).status).toBe(405);
    // The root PRM is still there.
    expect((await raw(gw.url, '/.well-known/oauth-protected-resource', { method: 'GET' })).status).toBe(200);
  });

  it('metrics label the route /mcp/{cluster}, never a raw cluster name', async () => {
    await mcpPost(gw.url, '/mcp/2');
    await mcpPost(gw.url, '/mcp/Bad');
    const metrics = (await raw(gw.url, '/metrics', { method: 'GET' })).body;
    expect(metrics).toContain('route="/mcp/{cluster}"');
    expect(metrics).not.toMatch(/route="\/mcp\/(2|3|4|Bad)"/);
  });

  it('a reload that changes cluster_allowlist logs the restart warning, and routing stays on the boot allowlist', async () => {
    writeFileSync(config.path, CONFIG_YAML('"2"'));
    gw.app.get(ConfigStore).reload();
    expect(gw.logs.some((line) => (JSON.parse(line) as { msg?: string }).msg === MULTICLUSTER_RELOAD_WARNING)).toBe(true);
    const three = await sdkClient(gw.url, '/mcp/3');
    try {
      expect(okJson(await three.callTool({ name: 'execute_query', arguments: { query: `SELECT cluster FROM default.${ONLY_ON_3}` } })).rows).toEqual([['three']]);
    } finally {
      await three.close();
    }
    expect(gw.app.get(ConfigStore).current.multicluster.cluster_allowlist).toEqual(['2', '3']);
  });
});

describe('multicluster with reveal_unknown_clusters: altinity-mcp\'s 404 before auth', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway(
      ['--clickhouse-host', '127.0.0.{cluster}', '--clickhouse-port', String(sidecarPort)],
      multiclusterEnv({ MCP_MULTICLUSTER_CLUSTER_ALLOWLIST: '2,3', MCP_MULTICLUSTER_REVEAL_UNKNOWN_CLUSTERS: 'true', MCP_METRICS_ENABLED: 'false' }),
    );
  });

  afterAll(async () => {
    await gw?.close();
  });

  it('an unknown cluster is a 404 without a token; a known one still asks for one; the PRM of an unknown one is a 404', async () => {
    const idpHits = idp.hits.length;
    expectGoNotFound(await mcpPost(gw.url, '/mcp/4'));
    expectGoNotFound(await mcpPost(gw.url, '/mcp/4', bearer));
    expect(idp.hits.length).toBe(idpHits);
    expect((await mcpPost(gw.url, '/mcp/2')).status).toBe(401);
    expectGoNotFound(await raw(gw.url, '/.well-known/oauth-protected-resource/mcp/4', { method: 'GET' }));
    expect((await raw(gw.url, '/.well-known/oauth-protected-resource/mcp/3', { method: 'GET' })).status).toBe(200);
  });

  it('with metrics off, /metrics is Go\'s 404 (upstream §A.2)', async () => {
    const metrics = await raw(gw.url, '/metrics', { method: 'GET' });
    expectGoNotFound(metrics);
    expect(metrics.body).not.toContain('altinity_mcp_');
  });
});

/** The per-(token, cluster) catalog cache, its counters, and a storm of new users (issue 18 §§3–4). */
describe('multicluster catalogs: per-token dynamic tools, denied entries, metrics, saturation', () => {
  let gw: TestGateway;
  let config: { path: string; cleanup: () => void };
  const RULES = `server:\n  tools:\n    - {type: read, name: execute_query}\n    - {type: read, view_regexp: "^mc_(sales|hr)_${SUFFIX}[.]"}\n`;

  beforeAll(async () => {
    config = tempConfig(CONFIG_YAML('"2", "3"') + RULES);
    gw = await startGateway(['--config', config.path, '--clickhouse-port', String(sidecarPort), '--metrics-enabled'], multiclusterEnv({ MCP_MULTICLUSTER_DISCOVERY_WAIT: '100ms' }));
  });

  afterAll(async () => {
    sidecars['3'].slowQueries = undefined;
    await gw?.close();
    config?.cleanup();
  });

  const token = (email: string) => idp.sign(RESOURCE, { claims: { sub: email, email, scope: 'openid email', jti: randomBytes(6).toString('hex') } });

  async function toolNames(path: string, bearerToken: string): Promise<string[]> {
    const client = await sdkClient(gw.url, path, bearerToken);
    try {
      return (await client.listTools()).tools.map((tool) => tool.name).sort();
    } finally {
      await client.close();
    }
  }

  function metric(text: string, name: string, labels: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  }

  it('two users with different grants see different dynamic tools on one cluster; another cluster has its own catalog', async () => {
    const alice = await token('alice@example.com');
    const bob = await token('bob@example.com');
    const aliceTools = await toolNames('/mcp/2', alice);
    const bobTools = await toolNames('/mcp/2', bob);
    expect(aliceTools.some((name) => name.includes('sales_report'))).toBe(true);
    expect(aliceTools.some((name) => name.includes('hr_report'))).toBe(true);
    expect(bobTools.some((name) => name.includes('sales_report'))).toBe(true);
    expect(bobTools.some((name) => name.includes('hr_report'))).toBe(false);
    expect(bobTools).toContain('execute_query');
    // Cluster 3 has only the sales view: alice's catalog there is its own.
    const aliceOn3 = await toolNames('/mcp/3', alice);
    expect(aliceOn3.some((name) => name.includes('sales_report'))).toBe(true);
    expect(aliceOn3.some((name) => name.includes('hr_report'))).toBe(false);
    // A repeat is a cache hit: no new discovery query reaches ClickHouse.
    sidecars['2'].slowQueries = { match: /FROM system\.tables/, delayMs: 0 };
    try {
      expect(await toolNames('/mcp/2', alice)).toEqual(aliceTools);
      expect(sidecars['2'].slowStats.total).toBe(0);
    } finally {
      sidecars['2'].slowQueries = undefined;
    }
  });

  it('a user ClickHouse refuses gets a denied entry and the static tools; the counters move on /metrics and /health', async () => {
    const carol = await token('carol@example.com');
    const first = await toolNames('/mcp/2', carol);
    expect(first).toContain('execute_query');
    expect(first.some((name) => name.includes('report'))).toBe(false);
    const seen = sidecars['2'].seen.length;
    expect(await toolNames('/mcp/2', carol)).toEqual(first);
    // The denial is cached: the second listing sent nothing to ClickHouse.
    expect(sidecars['2'].seen.length).toBe(seen);
    expect(gw.logs.some((line) => line.includes('multicluster: discovery failed; static-only') && line.includes('"cluster":"2"'))).toBe(true);

    const metrics = (await raw(gw.url, '/metrics', { method: 'GET' })).body;
    expect(metric(metrics, 'mcp_catalog_discovery_total', 'cluster="2",outcome="miss"')).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'mcp_catalog_discovery_total', 'cluster="2",outcome="auth_error"')).toBe(1);
    expect(metric(metrics, 'mcp_catalog_discovery_total', 'cluster="2",outcome="hit_denied"')).toBe(1);
    expect(metric(metrics, 'mcp_catalog_discovery_total', 'cluster="2",outcome="hit_ok"')).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^altinity_mcp_catalog_cache_denied_entries 1$/m);
    expect(metrics).toMatch(/^altinity_mcp_catalog_cache_hits_denied_total 1$/m);
    const health = JSON.parse((await raw(gw.url, '/health', { method: 'GET' })).body) as { catalog_cache: Record<string, number> };
    expect(health.catalog_cache).toMatchObject({ denied_entries: 1, hits_denied: 1, max: 10000, discovery_auth_err: 1 });
    expect(health.catalog_cache.entries).toBeGreaterThanOrEqual(4);
  });

  it('200 new users at once on one cluster: at most 16 discoveries reach ClickHouse at a time, no request fails, saturation is counted', async () => {
    // Warm the Bearer method of cluster 3's host, so the storm measures discovery, not identity probes.
    await toolNames('/mcp/3', await token('alice@example.com'));
    sidecars['3'].slowQueries = { match: /FROM system\.tables/, delayMs: 300 };
    Object.assign(sidecars['3'].slowStats, { inFlight: 0, maxInFlight: 0, total: 0 });
    const tokens = await Promise.all(Array.from({ length: 200 }, () => token('alice@example.com')));
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const answers = await Promise.all(
      tokens.map((t) =>
        raw(gw.url, '/mcp/3', { headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${t}` }, body }),
      ),
    );
    sidecars['3'].slowQueries = undefined;
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses]).toEqual([200]);
    for (const answer of answers) {
      const payload = answer.body.startsWith('{') ? answer.body : answer.body.split('\n').find((l) => l.startsWith('data: '))!.slice(6);
      const parsed = JSON.parse(payload) as { result?: { tools: Array<{ name: string }> }; error?: unknown };
      expect(parsed.error).toBeUndefined();
      expect(parsed.result!.tools.map((tool) => tool.name)).toContain('execute_query');
    }
    expect(sidecars['3'].slowStats.maxInFlight).toBeGreaterThan(1);
    expect(sidecars['3'].slowStats.maxInFlight).toBeLessThanOrEqual(16);
    const health = JSON.parse((await raw(gw.url, '/health', { method: 'GET' })).body) as { catalog_cache: Record<string, number> };
    expect(health.catalog_cache.discovery_saturate).toBeGreaterThan(0);
    const metrics = (await raw(gw.url, '/metrics', { method: 'GET' })).body;
    expect(metric(metrics, 'mcp_catalog_discovery_total', 'cluster="3",outcome="saturated"')).toBeGreaterThan(0);
    expect(metrics).toMatch(/^altinity_mcp_catalog_cache_discovery_saturated_total [1-9]/m);
  }, 60_000);
});
