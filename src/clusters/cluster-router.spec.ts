import { describe, expect, it } from 'vitest';
import { parseArgs } from '../config/config.cli.js';
import { loadConfig } from '../config/config.loader.js';
import type { GatewayConfig } from '../config/config.types.js';
import { isValidClusterName } from './cluster-name.js';
import { ClusterRouter } from './cluster-router.js';

function baseConfig(host: string, allowlist: string[]): GatewayConfig {
  const config = loadConfig({ args: parseArgs([]), env: {} }).config;
  Object.assign(config.clickhouse, {
    host,
    connect_host: '10.0.0.25',
    port: 8443,
    http_headers: { 'X-Static': '1' },
    extra_settings: { custom_scope: 'base' },
  });
  config.multicluster.cluster_allowlist = allowlist;
  return config;
}

describe('cluster names (auth spec §3.3, vector 64)', () => {
  it.each(['otel', 'my-cluster', 'cluster1', 'a', '2', 'a'.repeat(63)])('%s is valid', (name) => {
    expect(isValidClusterName(name)).toBe(true);
  });

  it.each(['', 'Otel', '.well-known', 'evil.example', 'cluster-', '-cluster', '10.0.0.1', 'a/b', 'a'.repeat(80), 'a'.repeat(64), 'my_cluster', 'my cluster', '..', '%61', 'a%2Fb', 'otel\n', 'ötel'])(
    '%j is invalid',
    (name) => {
      expect(isValidClusterName(name)).toBe(false);
    },
  );
});

describe('ClusterRouter', () => {
  it('vector 65: allowlisted names get the templated host; connect_host and port are shared; others are refused', () => {
    const router = new ClusterRouter(baseConfig('chi-{cluster}-{cluster}-0-0.demo', ['otel', 'antalya']));
    for (const name of ['otel', 'antalya']) {
      const found = router.lookup(name);
      expect(found).toMatchObject({ ok: true, cluster: name });
      if (!found.ok) throw new Error('unreachable');
      expect(found.clickhouse.host).toBe(`chi-${name}-${name}-0-0.demo`);
      expect(found.clickhouse.connect_host).toBe('10.0.0.25');
      expect(found.clickhouse.port).toBe(8443);
    }
    expect(router.lookup('bogus')).toEqual({ ok: false, reason: 'not_allowed' });
    expect(router.lookup('evil.example')).toEqual({ ok: false, reason: 'malformed' });
    expect(router.lookup('')).toEqual({ ok: false, reason: 'malformed' });
    expect(router.lookup('.well-known')).toEqual({ ok: false, reason: 'malformed' });
    expect(router.templated).toBe(true);
  });

  it('vector 66: an empty allowlist admits any valid label, still never a malformed one', () => {
    const router = new ClusterRouter(baseConfig('chi-{cluster}.demo', []));
    const found = router.lookup('anything');
    expect(found.ok && found.clickhouse.host).toBe('chi-anything.demo');
    expect(router.lookup('evil.example')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('vector 66: an allowlist entry that is not a label is refused, naming it', () => {
    expect(() => new ClusterRouter(baseConfig('chi-{cluster}.demo', ['good', 'Bad-Caps']))).toThrow(/"Bad-Caps"/);
  });

  it('trims allowlist entries and skips blanks (as Go does)', () => {
    const router = new ClusterRouter(baseConfig('{cluster}.demo', [' otel ', '', '  ']));
    expect(router.allowed).toEqual(['otel']);
    expect(router.lookup('otel').ok).toBe(true);
    expect(router.lookup('other')).toEqual({ ok: false, reason: 'not_allowed' });
  });

  it('upstream §C.3: per-cluster configs are independent copies; nothing a caller does reaches another cluster or the base', () => {
    const base = baseConfig('chi-{cluster}.example', ['a', 'b']);
    const router = new ClusterRouter(base);
    const a = router.lookup('a');
    const b = router.lookup('b');
    if (!a.ok || !b.ok) throw new Error('unreachable');
    expect([a.clickhouse.host, b.clickhouse.host]).toEqual(['chi-a.example', 'chi-b.example']);
    // Frozen all the way down: an attempt to add a header, a setting or change TLS throws instead of leaking.
    expect(() => {
      (a.clickhouse.http_headers as Record<string, string>).Authorization = 'Bearer stolen';
    }).toThrow(TypeError);
    expect(() => {
      (a.clickhouse.extra_settings as Record<string, string>).custom_scope = 'mutated';
    }).toThrow(TypeError);
    expect(() => {
      (a.clickhouse.tls as { enabled: boolean }).enabled = true;
    }).toThrow(TypeError);
    expect(b.clickhouse.http_headers).toEqual({ 'X-Static': '1' });
    expect(base.clickhouse.http_headers).toEqual({ 'X-Static': '1' });
    // The boot config itself stays mutable and unrelated: changing it later does not change a cluster.
    base.clickhouse.port = 1;
    base.clickhouse.host = 'elsewhere-{cluster}';
    const again = router.lookup('a');
    expect(again.ok && [again.clickhouse.host, again.clickhouse.port]).toEqual(['chi-a.example', 8443]);
    expect(again.ok && again.clickhouse).toBe(a.clickhouse);
  });

  it('a request config is the configuration in force with the cluster\'s clickhouse, one object per (config, cluster)', () => {
    const base = baseConfig('chi-{cluster}.example', ['a', 'b']);
    const router = new ClusterRouter(base);
    const a = router.lookup('a');
    if (!a.ok) throw new Error('unreachable');
    const current = loadConfig({ args: parseArgs(['--max-body-bytes', '5000']), env: {} }).config;
    const config = router.requestConfig(current, 'a', a.clickhouse);
    expect(config.clickhouse).toBe(a.clickhouse);
    expect(config.server).toBe(current.server);
    expect(router.requestConfig(current, 'a', a.clickhouse)).toBe(config);
    const reloaded = { ...current };
    expect(router.requestConfig(reloaded, 'a', a.clickhouse)).not.toBe(config);
  });

  it('a host without the placeholder routes every cluster to the same host (the validation warns)', () => {
    const router = new ClusterRouter(baseConfig('ch.example', ['a']));
    expect(router.templated).toBe(false);
    const a = router.lookup('a');
    expect(a.ok && a.clickhouse.host).toBe('ch.example');
  });
});
