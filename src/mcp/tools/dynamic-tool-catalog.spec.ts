import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CatalogService } from '../../catalog/catalog.service.js';
import { catalogKey, credentialCatalogKey } from '../../catalog/catalog-key.js';
import { ClickHouseQueryError } from '../../clickhouse/clickhouse-error.js';
import type { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { ConnectionSpec } from '../../clickhouse/clickhouse.types.js';
import { connectionFromConfig } from '../../clickhouse/connection-spec.js';
import { QueryEvents } from '../../common/events/query-events.js';
import { RequestObservers } from '../../common/http/request-observers.js';
import type { CallerIdentity, RequestConnectionContext } from '../../common/request-context.js';
import { STATIC_IDENTITY } from '../../common/request-context.js';
import { ShutdownState } from '../../common/shutdown/shutdown.state.js';
import { parseArgs } from '../../config/config.cli.js';
import { loadConfig } from '../../config/config.loader.js';
import { ConfigStore } from '../../config/config.store.js';
import type { GatewayConfig } from '../../config/config.types.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import {
  CREDENTIAL_DISCOVERY_FAILED,
  DynamicToolCatalog,
  MULTICLUSTER_DISCOVERY_FAILED,
  STATIC_DISCOVERY_FAILED,
} from './dynamic-tool-catalog.js';
import { type DynamicRule, resolveToolDefinitions } from './static-tools.js';

function memoryLoggerForSpec(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }), lines };
}

/** The rules a config with one read rule resolves to (as McpToolsService builds them). */
const RULES: readonly DynamicRule[] = (() => {
  const cfg = loadConfig({ args: parseArgs([]), env: {} }).config;
  cfg.server.tools = [{ type: 'read', view_regexp: '^sales\\..*' }] as GatewayConfig['server']['tools'];
  const rules = resolveToolDefinitions(cfg).dynamicRules;
  if (rules.length !== 1) throw new Error('fixture: expected one dynamic rule');
  return rules;
})();
const VIEW_ROW = ['sales', 'v_orders', 'CREATE VIEW sales.v_orders AS SELECT 1', ''];

const services: CatalogService[] = [];
afterEach(() => {
  for (const s of services.splice(0)) s.onApplicationShutdown();
});

function setup(edit: (cfg: GatewayConfig) => void = () => undefined, answer: (conn: ConnectionSpec) => Promise<unknown[][]> = async () => [VIEW_ROW]) {
  const args = parseArgs(['--transport', 'http', '--clickhouse-username', 'operator', '--clickhouse-password', 'operator-secret']);
  const loaded = loadConfig({ args, env: {} });
  edit(loaded.config);
  const config = new ConfigStore({ input: { args, env: {} }, loaded });
  const metrics = new MetricsService(config, new RequestObservers(), new ShutdownState(), new QueryEvents());
  const catalogs = new CatalogService(config, metrics);
  services.push(catalogs);
  const seen: ConnectionSpec[] = [];
  const clickhouse = {
    connectionFromConfig: (cfg: GatewayConfig['clickhouse'], overrides?: RequestConnectionContext['clickhouse']) => connectionFromConfig(cfg, overrides),
    queryCompatible: vi.fn(async (conn: ConnectionSpec) => {
      seen.push(conn);
      return { rows: await answer(conn) };
    }),
  } as unknown as ClickHouseService;
  const { logger, lines } = memoryLoggerForSpec();
  const catalog = new DynamicToolCatalog(clickhouse, catalogs, logger);
  const call = (identity: CallerIdentity, clickhouseOverrides: RequestConnectionContext['clickhouse'] = {}, cluster?: string) => {
    const connection: RequestConnectionContext = { requestId: 'req-1', identity, clickhouse: clickhouseOverrides, ...(cluster ? { cluster } : {}) };
    return { connection, tools: catalog.tools({ connection, signal: new AbortController().signal }, config.current, RULES, ['execute_query']) };
  };
  return { call, seen, lines, clickhouse, config, catalog };
}

const refused = () => new ClickHouseQueryError({ kind: 'auth_failed', code: 193, httpStatus: 401, serverMessage: 'Code: 193', userMessage: 'ClickHouse rejected the user name or password' });
const logged = (lines: string[], msg: string) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);

describe('DynamicToolCatalog through the catalog cache', () => {
  it('static mode: one shared catalog, discovered once with the configured credentials', async () => {
    const { call, seen } = setup();
    const a = call(STATIC_IDENTITY);
    expect((await a.tools).map((t) => t.name)).toEqual(['sales_v_orders']);
    expect(a.connection.catalogLookup).toMatchObject({ outcome: 'miss' });
    expect(a.connection.catalogLookup?.discoveryMs).toBeGreaterThanOrEqual(0);
    const b = call(STATIC_IDENTITY);
    expect((await b.tools).map((t) => t.name)).toEqual(['sales_v_orders']);
    expect(b.connection.catalogLookup).toEqual({ outcome: 'hit_ok' });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.username).toBe('operator');
  });

  it('JWE/OAuth: a catalog per credential, discovered with that caller\'s own connection', async () => {
    const { call, seen } = setup((cfg) => void (cfg.server.jwe.enabled = true));
    const alice = { kind: 'jwe' as const, cacheKey: credentialCatalogKey('jwe', 'token-a'), subject: 'alice' };
    const bob = { kind: 'jwe' as const, cacheKey: credentialCatalogKey('jwe', 'token-b'), subject: 'bob' };
    await call(alice, { selfContained: true, host: 'ch', username: 'alice', password: 'pa' }).tools;
    await call(bob, { selfContained: true, host: 'ch', username: 'bob', password: 'pb' }).tools;
    const again = call(alice, { selfContained: true, host: 'ch', username: 'alice', password: 'pa' });
    await again.tools;
    expect(again.connection.catalogLookup).toEqual({ outcome: 'hit_ok' });
    expect(seen.map((c) => c.username)).toEqual(['alice', 'bob']);
    expect(seen.every((c) => c.password !== 'operator-secret')).toBe(true);
  });

  it('a refused credential: static tools only, D.2 warning with the error, then a cached denial without discovery', async () => {
    const { call, seen, lines } = setup((cfg) => void (cfg.server.oauth.enabled = true), async () => {
      throw refused();
    });
    const who = { kind: 'oauth' as const, cacheKey: 'oauth:x', catalogKey: credentialCatalogKey('oauth', 'bearer'), subject: 'mallory' };
    const first = call(who, { bearerToken: 'bearer' });
    expect(await first.tools).toEqual([]);
    expect(first.connection.catalogLookup?.outcome).toBe('auth_error');
    const second = call(who, { bearerToken: 'bearer' });
    expect(await second.tools).toEqual([]);
    expect(second.connection.catalogLookup).toEqual({ outcome: 'hit_denied' });
    expect(seen).toHaveLength(1);
    const warnings = logged(lines, CREDENTIAL_DISCOVERY_FAILED);
    expect(warnings.map((w) => w.err)).toEqual(['ClickHouse rejected the user name or password', 'multicluster: catalog discovery denied (cached)']);
    expect(lines.join('\n')).not.toContain('bearer"');
  });

  it('multicluster: per (bearer, cluster), and Go\'s warning with cluster and err fields', async () => {
    let fail = false;
    const { call, seen, lines } = setup(
      (cfg) => {
        cfg.server.oauth.enabled = true;
        cfg.multicluster.enabled = true;
        cfg.multicluster.cluster_allowlist = ['otel', 'antalya'];
      },
      async () => {
        if (fail) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return [VIEW_ROW];
      },
    );
    const who = { kind: 'oauth' as const, cacheKey: 'oauth:x', bearerCatalogKey: catalogKey('bearer') };
    await call(who, {}, 'otel').tools;
    await call(who, {}, 'otel').tools;
    fail = true;
    const other = call(who, {}, 'antalya');
    expect(await other.tools).toEqual([]);
    expect(other.connection.catalogLookup?.outcome).toBe('transient_error');
    expect(seen).toHaveLength(2);
    const [warning] = logged(lines, MULTICLUSTER_DISCOVERY_FAILED);
    expect(warning).toMatchObject({ level: 40, cluster: 'antalya' });
    expect(String(warning!.err)).toContain('ECONNREFUSED');
  });

  it('static mode failures log the no-auth text; no rules → no lookup and no outcome', async () => {
    const { call, lines, clickhouse, config, catalog } = setup(undefined, async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    expect(await call(STATIC_IDENTITY).tools).toEqual([]);
    expect(logged(lines, STATIC_DISCOVERY_FAILED)).toHaveLength(1);
    const connection: RequestConnectionContext = { requestId: 'r', identity: STATIC_IDENTITY, clickhouse: {} };
    expect(await catalog.tools({ connection, signal: new AbortController().signal }, config.current, [], [])).toEqual([]);
    expect(connection.catalogLookup).toBeUndefined();
    expect(clickhouse.queryCompatible).toHaveBeenCalledTimes(1);
  });

  it('a frozen request context does not fail the lookup (the record is skipped)', async () => {
    const { config, catalog } = setup();
    const connection: RequestConnectionContext = Object.freeze({ requestId: 'r', identity: STATIC_IDENTITY, clickhouse: {} });
    const tools = await catalog.tools({ connection, signal: new AbortController().signal }, config.current, RULES, []);
    expect(tools.map((t) => t.name)).toEqual(['sales_v_orders']);
    expect(connection.catalogLookup).toBeUndefined();
  });
});
