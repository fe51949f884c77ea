import { describe, expect, it } from 'vitest';
import { parseArgs } from '../config/config.cli.js';
import { loadConfig } from '../config/config.loader.js';
import type { ClickHouseConfig } from '../config/config.types.js';
import { EMBEDDED_NOT_INSTALLED, deadlineMs, loadEmbeddedEngine } from './client-pool.js';
import { ClickHouseQueryError } from './clickhouse-error.js';
import { connectionFromConfig, describeConnection, dialAddress, poolKey, secretsOf } from './connection-spec.js';
import { sqlString } from '../sql/sql-literals.js';
import { acceptsSettingsClause, appendSettingsClause, trimStatement } from './sql-text.js';

const base = (ch: Partial<ClickHouseConfig> = {}): ClickHouseConfig =>
  Object.assign(loadConfig({ args: parseArgs([]), env: {} }).config.clickhouse, ch);

describe('connectionFromConfig', () => {
  it('maps the config and strips IPv6 brackets', () => {
    const spec = connectionFromConfig(
      base({ host: '[::1]', connect_host: '10.0.0.5', port: 8443, read_only: true, max_execution_time: 30, extra_settings: { max_threads: '2' }, embedded_path: ':memory:' }),
    );
    expect(spec).toMatchObject({
      protocol: 'http',
      host: '::1',
      connectHost: '10.0.0.5',
      port: 8443,
      database: 'default',
      username: 'default',
      readOnly: true,
      maxExecutionTime: 30,
      settings: { max_threads: '2' },
      embeddedPath: ':memory:',
    });
    expect(dialAddress(spec)).toBe('10.0.0.5:8443');
    expect(dialAddress({ ...spec, connectHost: undefined })).toBe('[::1]:8443');
  });

  it('applies per-request overrides', () => {
    const spec = connectionFromConfig(base(), { username: 'alice', password: 'pw', database: 'sales', roles: ['analyst'], tls: true, bearerToken: 'tok' });
    expect(spec).toMatchObject({ username: 'alice', password: 'pw', database: 'sales', roles: ['analyst'], bearerToken: 'tok', tls: { enabled: true } });
  });

  it('moves an Authorization Bearer header into the token only with TLS (as altinity-mcp)', () => {
    const headers = { Authorization: 'Bearer abc.def', 'X-Other': '1' };
    const plain = connectionFromConfig(base({ http_headers: headers }));
    expect(plain.bearerToken).toBeUndefined();
    expect(plain.httpHeaders).toEqual(headers);
    const tls = connectionFromConfig(base({ http_headers: headers, tls: { ...base().tls, enabled: true } }));
    expect(tls.bearerToken).toBe('abc.def');
    expect(tls.httpHeaders).toEqual({ 'X-Other': '1' });
  });
});

describe('pool keys and descriptions', () => {
  it('differ for any difference and never contain secrets', () => {
    const a = connectionFromConfig(base({ password: 'super-secret-1' }));
    const b = connectionFromConfig(base({ password: 'super-secret-2' }));
    expect(poolKey(a)).not.toBe(poolKey(b));
    expect(poolKey(a)).toBe(poolKey(connectionFromConfig(base({ password: 'super-secret-1' }))));
    expect(poolKey(a)).not.toContain('super-secret');
    expect(poolKey({ ...a, readOnly: true })).not.toBe(poolKey(a));
    expect(JSON.stringify(describeConnection(a))).not.toContain('super-secret');
    expect(secretsOf({ ...a, httpHeaders: { 'X-ClickHouse-Key': 'k3y-value' } })).toEqual(['super-secret-1', 'k3y-value']);
    expect(poolKey(connectionFromConfig(base({ protocol: 'embedded' })))).toBe('embedded::memory:');
  });
});

describe('sql text helpers', () => {
  it('appends inline SETTINGS safely', () => {
    expect(acceptsSettingsClause('SHOW TABLES')).toBe(false);
    expect(acceptsSettingsClause('-- c\nselect 1')).toBe(true);
    expect(trimStatement('SELECT 1; ;\n')).toBe('SELECT 1');
    expect(appendSettingsClause('SELECT 1 -- note;', { max_result_rows: '10', result_overflow_mode: 'break' })).toBe(
      "SELECT 1 -- note\nSETTINGS max_result_rows = 10, result_overflow_mode = 'break'",
    );
    expect(appendSettingsClause('SELECT 1', {})).toBe('SELECT 1');
    expect(() => appendSettingsClause('SELECT 1', { 'x; DROP': '1' })).toThrow(/invalid setting name/);
    expect(sqlString("it's \\")).toBe("'it\\'s \\\\'");
  });
});

describe('client pool helpers', () => {
  it('puts the client deadline a bit above max_execution_time', () => {
    expect(deadlineMs(1)).toBe(3000);
    expect(deadlineMs(600)).toBe(630_000);
    expect(deadlineMs(0)).toBe(630_000);
  });

  it('explains a missing chdb package', async () => {
    const missing = Object.assign(new Error("Cannot find package 'chdb'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await loadEmbeddedEngine(() => Promise.reject(missing)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    expect((err as ClickHouseQueryError).userMessage).toBe(EMBEDDED_NOT_INSTALLED);
    expect((err as ClickHouseQueryError).kind).toBe('unreachable');
  });
});

describe('connectionFromConfig: a self-contained (JWE token) connection', () => {
  const operator = () =>
    base({
      host: 'operator-host',
      connect_host: '10.0.0.25',
      port: 8443,
      database: 'operator_db',
      username: 'operator-user',
      password: 'operator-password',
      protocol: 'embedded',
      tls: { enabled: true, ca_cert: '/op/ca.pem', client_cert: '/op/c.pem', client_key: '/op/k.pem', insecure_skip_verify: true },
      http_headers: { Authorization: 'Bearer operator-bearer', 'X-Static': '1' },
      extra_settings: { custom_scope: 'operator-setting' },
      read_only: true,
      max_execution_time: 17,
    });

  it('takes endpoint, credentials and TLS from the token only; keeps the operator guard rails', () => {
    const spec = connectionFromConfig(operator(), {
      selfContained: true,
      host: '[::1]',
      username: 'alice',
      tls: true,
      tlsMaterial: { caCert: '/allowed/ca.pem', insecureSkipVerify: true },
    });
    expect(spec).toEqual({
      protocol: 'http',
      host: '::1',
      port: 8123,
      database: '',
      username: 'alice',
      password: '',
      tls: { enabled: true, caCert: '/allowed/ca.pem', clientCert: undefined, clientKey: undefined, insecureSkipVerify: true, fromToken: true },
      httpHeaders: {},
      settings: { custom_scope: 'operator-setting' },
      maxExecutionTime: 17,
      readOnly: true,
      embeddedPath: '',
    });
    expect(secretsOf(spec)).toEqual([]);
    expect(JSON.stringify(spec)).not.toMatch(/operator-password|operator-bearer|10\.0\.0\.25|\/op\//);
  });

  it('two token users on the same host get different pooled clients; the same token tuple shares one', () => {
    const cfg = operator();
    const a = connectionFromConfig(cfg, { selfContained: true, host: 'h', username: 'a', password: 'x' });
    const b = connectionFromConfig(cfg, { selfContained: true, host: 'h', username: 'b', password: 'x' });
    const a2 = connectionFromConfig(cfg, { selfContained: true, host: 'h', username: 'a', password: 'x' });
    expect(poolKey(a)).not.toBe(poolKey(b));
    expect(poolKey(a)).toBe(poolKey(a2));
    expect(poolKey(a)).not.toBe(poolKey(connectionFromConfig(cfg, { selfContained: true, host: 'h', username: 'a', password: 'y' })));
  });
});
