import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { loadConfig } from './config.loader.js';
import { ConfigStore, MULTICLUSTER_CLICKHOUSE_RELOAD_WARNING, MULTICLUSTER_RELOAD_WARNING, type ReloadOutcome } from './config.store.js';

const BASE = `
clickhouse:
  host: ch-a
  max_result_rows: 100
server:
  transport: http
  address: 127.0.0.1
  port: 8080
logging:
  level: info
`;

function storeFor(text: string, extraArgs: string[] = []): { store: ConfigStore; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-store-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  const input = { args: parseArgs(['--config', file, ...extraArgs]), env: {} };
  return { store: new ConfigStore({ input, loaded: loadConfig(input) }), file };
}

describe('ConfigStore hot reload', () => {
  let store: ConfigStore | undefined;
  afterEach(() => store?.onApplicationShutdown());

  it('applies a reloadable key to the current config without a restart', () => {
    const made = storeFor(BASE);
    store = made.store;
    writeFileSync(made.file, BASE.replace('max_result_rows: 100', 'max_result_rows: 7').replace('level: info', 'level: debug'));
    const outcome = store.reload();
    expect(outcome).toEqual({ status: 'applied', warnings: [], changedKeys: ['clickhouse.max_result_rows', 'logging.level'] });
    expect(store.current.clickhouse.max_result_rows).toBe(7);
    expect(store.current.logging.level).toBe('debug');
    expect(store.boot.clickhouse.max_result_rows).toBe(100);
  });

  it('keeps the boot value of a restart-only key and says a restart is needed', () => {
    const made = storeFor(BASE);
    store = made.store;
    writeFileSync(made.file, BASE.replace('port: 8080', 'port: 9999').replace('host: ch-a', 'host: ch-b'));
    const outcome = store.reload();
    expect(outcome.status).toBe('applied');
    const applied = outcome as Extract<ReloadOutcome, { status: 'applied' }>;
    expect(applied.warnings).toEqual([
      'config reload: server.port changed from 8080 to 9999, which needs a restart; keeping 8080 until then',
    ]);
    expect(store.current.server.port).toBe(8080);
    expect(store.current.clickhouse.host).toBe('ch-b');
    expect(applied.changedKeys).toEqual(['clickhouse.host']);
  });

  it('warns for multicluster keys with altinity-mcp\'s exact text and keeps the whole block at its boot values', () => {
    const made = storeFor(BASE);
    store = made.store;
    writeFileSync(made.file, `${BASE}multicluster:\n  catalog_cache_max: 500\n  cluster_allowlist: [a, b]\n`);
    const outcome = store.reload() as Extract<ReloadOutcome, { status: 'applied' }>;
    expect(outcome.warnings).toEqual([MULTICLUSTER_RELOAD_WARNING]);
    expect(MULTICLUSTER_RELOAD_WARNING).toBe(
      'config reload: multicluster.* fields changed — restart required for these to take effect; routing/cache remain on the previous configuration',
    );
    expect(store.current.multicluster).toEqual(store.boot.multicluster);
    expect(store.current.multicluster.cluster_allowlist).toEqual([]);
    expect(outcome.changedKeys).toEqual([]);
  });

  it('in multicluster mode, a clickhouse.* change says the clusters keep their boot connection', () => {
    const mc = `${BASE.replace('host: ch-a', 'host: "ch-{cluster}"')}multicluster:\n  enabled: true\n  cluster_allowlist: [a]\n`;
    const oauth = ['--transport', 'http'];
    const env = { MCP_OAUTH_ENABLED: 'true', MCP_OAUTH_ISSUER: 'https://idp.example.com', MCP_OAUTH_AUDIENCE: 'https://mcp.example.com', MCP_OAUTH_PUBLIC_RESOURCE_URL: 'https://mcp.example.com' };
    const dir = mkdtempSync(join(tmpdir(), 'cfg-store-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, mc);
    const input = { args: parseArgs(['--config', file, ...oauth]), env };
    store = new ConfigStore({ input, loaded: loadConfig(input) });
    writeFileSync(file, mc.replace('max_result_rows: 100', 'max_result_rows: 7'));
    const outcome = store.reload() as Extract<ReloadOutcome, { status: 'applied' }>;
    expect(outcome.warnings).toEqual([MULTICLUSTER_CLICKHOUSE_RELOAD_WARNING]);
    expect(store.current.multicluster.enabled).toBe(true);
  });

  it('keeps the last good config when the file becomes invalid, and reports why', () => {
    const made = storeFor(BASE);
    store = made.store;
    const seen: ReloadOutcome[] = [];
    store.onReload((o) => seen.push(o));
    writeFileSync(made.file, BASE.replace('port: 8080', 'port: lots'));
    expect(store.reload()).toEqual({
      status: 'failed',
      errors: ['server.port: got "lots", expected an integer from 1 to 65535 (from the config file)'],
    });
    writeFileSync(made.file, 'clickhouse: [broken\n');
    expect(store.reload().status).toBe('failed');
    expect(store.current.clickhouse.host).toBe('ch-a');
    expect(seen.map((o) => o.status)).toEqual(['failed', 'failed']);
  });

  it('does nothing when the file did not change', () => {
    const made = storeFor(BASE);
    store = made.store;
    expect(store.reload()).toEqual({ status: 'unchanged' });
  });

  it('keeps flag and env overrides across reloads', () => {
    const made = storeFor(BASE, ['--clickhouse-host', 'from-flag']);
    store = made.store;
    writeFileSync(made.file, BASE.replace('host: ch-a', 'host: ch-z').replace('max_result_rows: 100', 'max_result_rows: 5'));
    store.reload();
    expect(store.current.clickhouse.host).toBe('from-flag');
    expect(store.current.clickhouse.max_result_rows).toBe(5);
  });

  it('re-reads the file every --config-reload-time seconds', async () => {
    const made = storeFor(BASE, ['--config-reload-time', '1']);
    store = made.store;
    const outcomes: ReloadOutcome[] = [];
    store.onReload((o) => outcomes.push(o));
    store.startWatching();
    writeFileSync(made.file, BASE.replace('max_result_rows: 100', 'max_result_rows: 42'));
    const deadline = Date.now() + 4000;
    while (store.current.clickhouse.max_result_rows !== 42 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(store.current.clickhouse.max_result_rows).toBe(42);
    expect(outcomes.some((o) => o.status === 'applied')).toBe(true);
  });
});
