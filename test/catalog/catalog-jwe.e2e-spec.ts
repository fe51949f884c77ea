import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chQuery } from '../setup/clickhouse-server.js';
import { chToken, jweFlags } from '../auth/jwe-http-helpers.js';
import { rawHttp, rpc, tempConfig } from '../mcp/mcp-e2e-helpers.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

/**
 * Per-credential dynamic-tool catalogs (upstream §D.2) through the real gateway in JWE mode against
 * ClickHouse 18.16: each token gets its own catalog, discovered with its own connection and then served from
 * the cache; a token ClickHouse refuses (wrong password: HTTP 401, code 193) is remembered as denied and its
 * caller keeps the static tools. Outcomes are read from `/metrics` (`mcp_catalog_discovery_total`).
 */

const DB = `mcpe2e_catalog_${process.pid}`;

const toolNames = async (gw: TestGateway, token: string): Promise<string[]> => {
  const answer = await rpc(gw.url, 'tools/list', {}, { path: `/${token}` });
  expect(answer.status).toBe(200);
  expect(answer.message.error).toBeUndefined();
  return (answer.message.result.tools as Array<{ name: string }>).map((t) => t.name).sort();
};

const outcomes = async (gw: TestGateway): Promise<Record<string, number>> => {
  const body = (await rawHttp(gw.url, { path: '/metrics', method: 'GET' })).body;
  const counts: Record<string, number> = {};
  for (const m of body.matchAll(/^mcp_catalog_discovery_total\{cluster="([^"]+)",outcome="([^"]+)"\} (\d+)$/gm)) counts[`${m[1]}/${m[2]}`] = Number(m[3]);
  return counts;
};

describe('per-credential catalogs on ClickHouse 18.16 (JWE mode)', () => {
  let gw: TestGateway;
  let cfg: ReturnType<typeof tempConfig>;

  beforeAll(async () => {
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
    await chQuery(`CREATE DATABASE ${DB}`);
    await chQuery(`CREATE TABLE ${DB}.base (id UInt64) ENGINE = Memory`);
    await chQuery(`CREATE VIEW ${DB}.v_first AS SELECT id FROM ${DB}.base`);
    cfg = tempConfig(`
server:
  tools:
    - {type: read, name: execute_query}
    - {type: read, view_regexp: "${DB}\\\\.v_"}
`);
    gw = await startGateway(jweFlags(['--config', cfg.path, '--metrics-enabled']));
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    cfg?.cleanup();
    await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  });

  it('two credentials get separate catalogs; a repeated call is a hit that does not see later views', async () => {
    const tester = await chToken('tester', 'secret');
    const reader = await chToken('ro', 'ro');

    expect(await toolNames(gw, tester)).toEqual(['execute_query', `${DB}_v_first`]);
    // A view created now: the second credential discovers it, the first one's cached catalog does not.
    await chQuery(`CREATE VIEW ${DB}.v_second AS SELECT id FROM ${DB}.base`);
    expect(await toolNames(gw, reader)).toEqual(['execute_query', `${DB}_v_first`, `${DB}_v_second`]);
    expect(await toolNames(gw, tester)).toEqual(['execute_query', `${DB}_v_first`]);

    expect(await outcomes(gw)).toMatchObject({ 'singlecluster/miss': 2, 'singlecluster/hit_ok': 1 });
    const discovered = gw.logs.filter((line) => line.includes('Dynamic tools discovered'));
    expect(discovered).toHaveLength(2);
    expect(discovered.some((line) => line.includes('"identity":"tester"'))).toBe(true);
    expect(discovered.some((line) => line.includes('"identity":"ro"'))).toBe(true);
  });

  it('a tool of one catalog runs for its credential; a refused credential gets the static tools, then a cached denial', async () => {
    // A newly minted token is other bytes: its own catalog (a miss), then its view tool runs.
    const tester = await chToken('tester', 'secret', { exp: Math.floor(Date.now() / 1000) + 7200 });
    const call = await rpc(gw.url, 'tools/call', { name: `${DB}_v_first`, arguments: {} }, { path: `/${tester}` });
    expect(call.message.error).toBeUndefined();
    expect(call.message.result.isError).toBeFalsy();

    const wrong = await chToken('tester', 'not-the-password');
    const before = await outcomes(gw);
    expect(await toolNames(gw, wrong)).toEqual(['execute_query']);
    expect(await toolNames(gw, wrong)).toEqual(['execute_query']);
    const after = await outcomes(gw);
    expect((after['singlecluster/auth_error'] ?? 0) - (before['singlecluster/auth_error'] ?? 0)).toBe(1);
    expect((after['singlecluster/hit_denied'] ?? 0) - (before['singlecluster/hit_denied'] ?? 0)).toBe(1);
    const warnings = gw.logs.filter((line) => line.includes('credential catalog discovery failed; static tools remain available'));
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings.some((line) => line.includes('multicluster: catalog discovery denied (cached)'))).toBe(true);
    // Never the password or the token in a log line.
    expect(gw.logs.join('\n')).not.toContain('not-the-password');
    expect(gw.logs.join('\n')).not.toContain(wrong);

    // A dynamic tool of another credential's catalog is unknown to the refused caller.
    const denied = await rpc(gw.url, 'tools/call', { name: `${DB}_v_first`, arguments: {} }, { path: `/${wrong}` });
    expect(denied.message.error).toEqual({ code: -32602, message: `unknown tool "${DB}_v_first"` });
  });

  it('the duration histogram counts discoveries (misses and failures), not hits', async () => {
    const body = (await rawHttp(gw.url, { path: '/metrics', method: 'GET' })).body;
    const count = Number(/^mcp_catalog_discovery_duration_seconds_count\{cluster="singlecluster"\} (\d+)$/m.exec(body)?.[1]);
    const seen = await outcomes(gw);
    // tester, ro, the second tester token (other bytes, other catalog) and the refused token; not the hits.
    expect(seen['singlecluster/miss']! + seen['singlecluster/auth_error']!).toBe(4);
    expect(count).toBe(4);
    expect(seen['singlecluster/hit_ok']! + seen['singlecluster/hit_denied']!).toBeGreaterThanOrEqual(2);
    expect(body).not.toContain('altinity_mcp_catalog_cache_'); // single-cluster: not exported (upstream §A)
  });
});
