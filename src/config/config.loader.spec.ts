import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { CONFIG_FIELDS, type FieldSpec } from './config.fields.js';
import { ConfigError, type LoadedConfig, loadConfig } from './config.loader.js';
import { parse, stringify } from 'yaml';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/altinity-configs/', import.meta.url));

function load(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): LoadedConfig {
  return loadConfig({
    args: parseArgs(argv),
    env,
    readFile: (p) => {
      if (p in files) return files[p]!;
      return readFileSync(p, 'utf8');
    },
  });
}

function loadError(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): string[] {
  try {
    load(argv, env, files);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a configuration error');
}

const get = (obj: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);

function nest(path: string, value: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((acc, key) => ({ [key]: acc }), value) as Record<string, unknown>;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Three distinct valid values per field: as written in a file, as env/flag text, and the parsed result. */
function samples(field: FieldSpec): Array<{ file: unknown; text: string; parsed: unknown }> {
  switch (field.kind) {
    case 'string':
    case 'secret':
      return ['filehost', 'envhost', 'flaghost'].map((v) => ({ file: v, text: v, parsed: v }));
    case 'int': {
      const base = field.path === 'server.max_body_bytes' ? 2048 : (field.min ?? 0) + 1;
      return [base, base + 1, base + 2].map((n) => ({ file: n, text: String(n), parsed: n }));
    }
    case 'bool': {
      const flip = !(field.default as boolean);
      return [flip, !flip, flip].map((b) => ({ file: b, text: String(b), parsed: b }));
    }
    case 'enum': {
      const v = field.values!;
      return [v[1]!, v[2] ?? v[0]!, v[0]!].map((s) => ({ file: s, text: s.toUpperCase(), parsed: s }));
    }
    case 'list':
      return [
        { file: ['alpha'], text: 'alpha', parsed: ['alpha'] },
        { file: ['bravo'], text: 'bravo, charlie', parsed: ['bravo', 'charlie'] },
        { file: ['delta'], text: 'delta', parsed: ['delta'] },
      ];
    case 'map':
      return [
        { file: { a: 1 }, text: 'a=1', parsed: { a: '1' } },
        { file: { b: 2 }, text: 'b=2,c=3', parsed: { b: '2', c: '3' } },
        { file: { d: 4 }, text: 'd=4', parsed: { d: '4' } },
      ];
    case 'duration': {
      const min = field.min!;
      return [2, 3, 4].map((k) => ({ file: `${(min * k) / 1000}s`, text: `${(min * k) / 1000}s`, parsed: min * k }));
    }
    default:
      return [];
  }
}

// Switching these on stops the boot (multicluster, JWE and OAuth need their partner keys), so their
// precedence is tested with `false` below.
const GATED = new Set(['server.jwe.enabled', 'server.oauth.enabled', 'multicluster.enabled', 'server.jwe.token_generator.enabled']);
const TABLE = CONFIG_FIELDS.filter((f) => samples(f).length > 0 && !GATED.has(f.path));
// Keys that are only valid together with another one: the file supplies the partner.
const PARTNERS: Record<string, string> = {
  'clickhouse.tls.client_cert': 'clickhouse:\n  tls:\n    client_key: /k.pem\n',
  'clickhouse.tls.client_key': 'clickhouse:\n  tls:\n    client_cert: /c.pem\n',
  'server.tls.enabled': 'server:\n  tls:\n    cert_file: /c.pem\n    key_file: /k.pem\n',
};

describe('precedence: flag > env > file > default, for every key', () => {
  it.each(TABLE.map((f) => [f.path, f] as const))('%s', (_path, field) => {
    const [inFile, inEnv, inFlag] = samples(field);
    const files = { '/cfg.yaml': stringify(nest(field.path, inFile!.file)) };
    expect(get(load([]).config, field.path)).toEqual(field.default);
    if (PARTNERS[field.path]) files['/cfg.yaml'] = stringify(deepMerge(parse(PARTNERS[field.path]!), nest(field.path, inFile!.file)));
    const fromFile = load(['--config', '/cfg.yaml'], {}, files);
    expect(get(fromFile.config, field.path)).toEqual(inFile!.parsed);
    expect(fromFile.sources[field.path]).toBe('file');

    if (field.env) {
      const fromEnv = load(['--config', '/cfg.yaml'], { [field.env]: inEnv!.text }, files);
      expect(get(fromEnv.config, field.path)).toEqual(inEnv!.parsed);
      expect(fromEnv.sources[field.path]).toBe('env');
    }
    if (field.flag) {
      const flag = field.kind === 'bool' ? [`--${field.flag}=${inFlag!.text}`] : [`--${field.flag}`, inFlag!.text];
      const env = field.env ? { [field.env]: inEnv!.text } : {};
      const fromFlag = load(['--config', '/cfg.yaml', ...flag], env, files);
      expect(get(fromFlag.config, field.path)).toEqual(inFlag!.parsed);
      expect(fromFlag.sources[field.path]).toBe('flag');
    }
  });

  it('covers every key of core.md §1.2 with the altinity-mcp flag and env names', () => {
    const expected: Array<[string, string, string]> = [
      ['clickhouse.host', 'clickhouse-host', 'CLICKHOUSE_HOST'],
      ['clickhouse.connect_host', 'clickhouse-connect-host', 'CLICKHOUSE_CONNECT_HOST'],
      ['clickhouse.port', 'clickhouse-port', 'CLICKHOUSE_PORT'],
      ['clickhouse.database', 'clickhouse-database', 'CLICKHOUSE_DATABASE'],
      ['clickhouse.username', 'clickhouse-username', 'CLICKHOUSE_USERNAME'],
      ['clickhouse.password', 'clickhouse-password', 'CLICKHOUSE_PASSWORD'],
      ['clickhouse.protocol', 'clickhouse-protocol', 'CLICKHOUSE_PROTOCOL'],
      ['clickhouse.tls.enabled', 'clickhouse-tls', 'CLICKHOUSE_TLS'],
      ['clickhouse.tls.ca_cert', 'clickhouse-tls-ca-cert', 'CLICKHOUSE_TLS_CA_CERT'],
      ['clickhouse.tls.client_cert', 'clickhouse-tls-client-cert', 'CLICKHOUSE_TLS_CLIENT_CERT'],
      ['clickhouse.tls.client_key', 'clickhouse-tls-client-key', 'CLICKHOUSE_TLS_CLIENT_KEY'],
      ['clickhouse.tls.insecure_skip_verify', 'clickhouse-tls-insecure-skip-verify', 'CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY'],
      ['clickhouse.read_only', 'read-only', 'CLICKHOUSE_READ_ONLY'],
      ['clickhouse.max_execution_time', 'clickhouse-max-execution-time', 'CLICKHOUSE_MAX_EXECUTION_TIME'],
      ['clickhouse.limit', 'clickhouse-limit', 'CLICKHOUSE_LIMIT'],
      ['clickhouse.max_result_rows', 'clickhouse-max-result-rows', 'CLICKHOUSE_MAX_RESULT_ROWS'],
      ['clickhouse.max_result_bytes', 'clickhouse-max-result-bytes', 'CLICKHOUSE_MAX_RESULT_BYTES'],
      ['clickhouse.max_query_length', 'clickhouse-max-query-length', 'CLICKHOUSE_MAX_QUERY_LENGTH'],
      ['clickhouse.http_headers', 'clickhouse-http-headers', 'CLICKHOUSE_HTTP_HEADERS'],
      ['server.transport', 'transport', 'MCP_TRANSPORT'],
      ['server.address', 'address', 'MCP_ADDRESS'],
      ['server.port', 'port', 'MCP_PORT'],
      ['server.tls.enabled', 'server-tls', 'MCP_SERVER_TLS'],
      ['server.tls.cert_file', 'server-tls-cert-file', 'MCP_SERVER_TLS_CERT_FILE'],
      ['server.tls.key_file', 'server-tls-key-file', 'MCP_SERVER_TLS_KEY_FILE'],
      ['server.tls.ca_cert', 'server-tls-ca-cert', 'MCP_SERVER_TLS_CA_CERT'],
      ['server.jwe.enabled', 'allow-jwe-auth', 'MCP_ALLOW_JWE_AUTH'],
      ['server.jwe.jwe_secret_key', 'jwe-secret-key', 'MCP_JWE_SECRET_KEY'],
      ['server.jwe.jwt_secret_key', 'jwt-secret-key', 'MCP_JWT_SECRET_KEY'],
      ['server.cors_origin', 'cors-origin', 'MCP_CORS_ORIGIN'],
      ['server.tool_input_settings', 'tool-input-settings', 'TOOL_INPUT_SETTINGS'],
      ['server.blocked_query_clauses', 'blocked-query-clauses', 'BLOCKED_QUERY_CLAUSES'],
      ['logging.level', 'log-level', 'LOG_LEVEL'],
      ['multicluster.enabled', 'multicluster-enabled', 'MCP_MULTICLUSTER_ENABLED'],
      ['multicluster.cluster_allowlist', 'multicluster-cluster-allowlist', 'MCP_MULTICLUSTER_CLUSTER_ALLOWLIST'],
      ['multicluster.catalog_cache_max', 'multicluster-catalog-cache-max', 'MCP_MULTICLUSTER_CATALOG_CACHE_MAX'],
      ['multicluster.catalog_ttl_fallback', 'multicluster-catalog-ttl-fallback', 'MCP_MULTICLUSTER_CATALOG_TTL_FALLBACK'],
      ['multicluster.catalog_negative_ttl', 'multicluster-catalog-negative-ttl', 'MCP_MULTICLUSTER_CATALOG_NEGATIVE_TTL'],
      ['server.oauth.issuer', 'oauth-issuer', 'MCP_OAUTH_ISSUER'],
      ['server.oauth.signing_secret', 'oauth-signing-secret', 'MCP_OAUTH_SIGNING_SECRET'],
    ];
    for (const [path, flag, env] of expected) {
      const field = CONFIG_FIELDS.find((f) => f.path === path);
      expect(field, path).toBeDefined();
      expect([field!.flag, field!.env], path).toEqual([flag, env]);
    }
    for (const path of ['clickhouse.extra_settings', 'server.tools', 'server.dynamic_tools', 'server.openapi.enabled', 'server.openapi.tls', 'reload_time']) {
      expect(CONFIG_FIELDS.some((f) => f.path === path), path).toBe(true);
    }
  });

  it('treats a zero or empty value in the file as unset, as altinity-mcp does', () => {
    const files = { '/c.yaml': 'server:\n  port: 0\nclickhouse:\n  max_execution_time: 0\n  host: ""\n' };
    const { config } = load(['--config', '/c.yaml'], {}, files);
    expect(config.server.port).toBe(8080);
    expect(config.clickhouse.max_execution_time).toBe(600);
    expect(config.clickhouse.host).toBe('localhost');
  });

  it('multicluster defaults replace zero values after the file and again after flags/env (auth spec §3.1)', () => {
    const files = { '/c.yaml': 'multicluster:\n  catalog_cache_max: 0\n  catalog_ttl_fallback: 0s\n' };
    const fromFile = load(['--config', '/c.yaml'], {}, files).config.multicluster;
    expect(fromFile).toMatchObject({ catalog_cache_max: 10000, catalog_ttl_fallback: 900_000 });
    const fromFlags = load(['--multicluster-catalog-cache-max', '0', '--multicluster-catalog-negative-ttl', '0s'], { MCP_MULTICLUSTER_CATALOG_TTL_FALLBACK: '0s' }, {}).config.multicluster;
    expect(fromFlags).toMatchObject({ catalog_cache_max: 10000, catalog_ttl_fallback: 900_000, catalog_negative_ttl: 60_000 });
  });

  it('keeps a 0 in the file for the gateway\'s own keys, where 0 means "none" (not altinity-mcp\'s rule)', () => {
    const files = { '/c.yaml': 'server:\n  oauth:\n    requests_per_minute: 0\n    consent_ttl_seconds: 0\n' };
    const { config } = load(['--config', '/c.yaml'], {}, files);
    expect(config.server.oauth.requests_per_minute).toBe(0);
    expect(config.server.oauth.consent_ttl_seconds).toBe(0);
    expect(load([], {}, {}).config.server.oauth.requests_per_minute).toBe(60);
  });

  it('lets an explicit false flag or env override a true in the file', () => {
    const files = { '/c.yaml': 'clickhouse:\n  read_only: true\n' };
    expect(load(['--config', '/c.yaml', '--read-only=false'], {}, files).config.clickhouse.read_only).toBe(false);
    expect(load(['--config', '/c.yaml'], { CLICKHOUSE_READ_ONLY: 'false' }, files).config.clickhouse.read_only).toBe(false);
  });

  it('accumulates repeated list flags and replaces maps wholesale', () => {
    const files = { '/c.yaml': 'clickhouse:\n  http_headers:\n    X-A: "1"\n' };
    const loaded = load(['--config', '/c.yaml', '--tool-input-settings', 'custom_a', '--tool-input-settings', 'custom_b,custom_c', '--clickhouse-http-headers', 'X-B=2'], {}, files);
    expect(loaded.config.server.tool_input_settings).toEqual(['custom_a', 'custom_b', 'custom_c']);
    expect(loaded.config.clickhouse.http_headers).toEqual({ 'X-B': '2' });
  });

  it('maps --openapi http|https onto server.openapi.*', () => {
    expect(load(['--openapi', 'http']).config.server.openapi).toEqual({ enabled: true, tls: false, allow_write_queries: false });
    expect(load([], { MCP_OPENAPI: 'https' }).config.server.openapi).toEqual({ enabled: true, tls: true, allow_write_queries: false });
    expect(load(['--openapi', 'disable']).config.server.openapi).toEqual({ enabled: false, tls: false, allow_write_queries: false });
  });

  it('reads the reload interval from --config-reload-time / CONFIG_RELOAD_TIME only', () => {
    const files = { '/c.yaml': 'reload_time: 30\n' };
    expect(load(['--config', '/c.yaml'], {}, files).options.configReloadTime).toBe(0);
    expect(load(['--config', '/c.yaml', '--config-reload-time', '5'], {}, files).options.configReloadTime).toBe(5);
    expect(load(['--config', '/c.yaml'], { CONFIG_RELOAD_TIME: '7' }, files).options.configReloadTime).toBe(7);
  });
});

describe('invalid configurations: one clear error per bad key', () => {
  const cases: Array<[string, string[], Record<string, string>, string | undefined, RegExp]> = [
    ['non-numeric port from env', [], { CLICKHOUSE_PORT: 'abc' }, undefined, /^clickhouse\.port: got "abc", expected an integer from 1 to 65535 \(from env CLICKHOUSE_PORT\)$/],
    ['port out of range from flag', ['--port', '70000'], {}, undefined, /^server\.port: got "70000", expected an integer from 1 to 65535 \(from --port\)$/],
    ['negative listen port in file', [], {}, 'server:\n  port: -1\n', /^server\.port: got -1, expected an integer from 1 to 65535 \(from the config file\)$/],
    ['bad log level flag', ['--log-level', 'verbose'], {}, undefined, /invalid log level: verbose/],
    ['bad log level in file', [], {}, 'logging:\n  level: verbose\n', /failed setup logging verbose level: invalid log level: verbose/],
    ['unknown transport', ['--transport', 'bogus'], {}, undefined, /^server\.transport: got "bogus", expected one of stdio, http, sse/],
    ['tcp protocol', ['--clickhouse-protocol', 'TCP'], {}, undefined, /^clickhouse\.protocol: "TCP" is not supported by this gateway; use http/],
    ['bool env that is not a bool', [], { CLICKHOUSE_READ_ONLY: 'maybe' }, undefined, /^clickhouse\.read_only: got "maybe", expected true or false \(from env CLICKHOUSE_READ_ONLY\)$/],
    ['bool in file given as a number', [], {}, 'clickhouse:\n  read_only: 2\n', /^clickhouse\.read_only: got 2, expected true or false/],
    ['blocked tool input setting', ['--tool-input-settings', 'readonly'], {}, undefined, /tool_input_settings: setting "readonly" is blocked/],
    ['duplicate tool input setting', ['--tool-input-settings', 'custom_a,CUSTOM_A'], {}, undefined, /duplicate setting "CUSTOM_A"/],
    ['connect_host with a scheme', ['--clickhouse-connect-host', 'https://10.0.0.25'], {}, undefined, /clickhouse\.connect_host "https:\/\/10\.0\.0\.25" must contain only a hostname or unbracketed IP address/],
    ['connect_host with a port', ['--clickhouse-connect-host', '10.0.0.25:8443'], {}, undefined, /must contain only a hostname/],
    ['connect_host with whitespace', [], { CLICKHOUSE_CONNECT_HOST: ' proxy.internal' }, undefined, /clickhouse\.connect_host must not contain surrounding whitespace/],
    ['connect_host bad label', ['--clickhouse-connect-host', 'proxy_internal'], {}, undefined, /clickhouse\.connect_host "proxy_internal" is not a valid hostname or IP address/],
    ['JWE without a secret', ['--allow-jwe-auth', '--transport', 'http'], {}, undefined, /JWE encryption is enabled but no JWE secret key is provided/],
    ['JWE together with OAuth: the OAuth rules still apply', ['--allow-jwe-auth', '--jwe-secret-key', 'k', '--transport', 'http'], { MCP_OAUTH_ENABLED: 'true', MCP_OAUTH_ISSUER: 'https://idp.example.com' }, undefined, /^server\.oauth\.audience: oauth: broker=false requires oauth\.audience — it must byte-equal/],
    ['JWE token generator without JWE', ['--jwe-token-generator', '--jwe-token-generator-admin-token', 'a'.repeat(32)], {}, undefined, /^server\.jwe\.token_generator\.enabled: the JWE token generator requires server\.jwe\.enabled$/],
    ['JWE token generator with a short admin token', ['--allow-jwe-auth', '--jwe-secret-key', 'k', '--jwe-token-generator', '--transport', 'http'], { MCP_JWE_TOKEN_GENERATOR_ADMIN_TOKEN: 'short-admin-secret' }, undefined, /^server\.jwe\.token_generator\.admin_token: admin_token must be at least 32 bytes when the JWE token generator is enabled$/],
    ['JWE token generator negative max expiry', [], { MCP_JWE_TOKEN_GENERATOR_MAX_EXPIRY_SECONDS: '-5' }, undefined, /^server\.jwe\.token_generator\.max_expiry_seconds: max_expiry_seconds must be positive$/],
    ['JWE on stdio (no path or header to carry a token)', ['--allow-jwe-auth', '--jwe-secret-key', 'k'], {}, undefined, /^server\.jwe\.enabled: JWE tokens travel in HTTP paths and headers; the stdio transport cannot carry them \(use transport http or sse\)$/],
    ['OAuth resource server without an issuer', ['--transport', 'http'], { MCP_OAUTH_ENABLED: 'true', MCP_OAUTH_AUDIENCE: 'https://mcp.example.com' }, undefined, /^server\.oauth\.issuer: oauth: broker=false requires oauth\.issuer \(the external AS/],
    ['OAuth issuer over plain http on a remote host', ['--transport', 'http'], { MCP_OAUTH_ENABLED: 'true', MCP_OAUTH_ISSUER: 'http://idp.example.com', MCP_OAUTH_AUDIENCE: 'https://mcp.example.com' }, undefined, /^server\.oauth\.issuer: oauth\.issuer must use https:\/\/ \(got "http:\/\/idp\.example\.com"\) — http on a remote host/],
    ['OAuth over stdio', ['--transport', 'stdio'], { MCP_OAUTH_ENABLED: 'true', MCP_OAUTH_ISSUER: 'https://idp.example.com', MCP_OAUTH_AUDIENCE: 'https://mcp.example.com' }, undefined, /^server\.oauth\.enabled: OAuth bearers travel in the HTTP Authorization header/],
    ['multicluster cache too small', [], {}, 'multicluster:\n  catalog_cache_max: 50\n', /^multicluster\.catalog_cache_max: multicluster: catalog_cache_max=50 is too small \(min 100\) — the cache would thrash/],
    ['multicluster ttl out of range', ['--multicluster-catalog-ttl-fallback', '30s'], {}, undefined, /^multicluster\.catalog_ttl_fallback: multicluster: catalog_ttl_fallback=30s must be between 1m and 24h$/],
    ['multicluster malformed duration', [], { MCP_MULTICLUSTER_CATALOG_NEGATIVE_TTL: 'soon' }, undefined, /^multicluster\.catalog_negative_ttl: got "soon", expected a duration such as 90s/],
    ['multicluster allowlist entry', ['--multicluster-cluster-allowlist', 'Prod_EU'], {}, undefined, /cluster_allowlist entry "Prod_EU" is not a valid RFC 1123 DNS label/],
    ['TLS listener without files', ['--server-tls'], {}, undefined, /^server\.tls\.enabled: needs server\.tls\.cert_file and server\.tls\.key_file$/],
    ['client cert without key', ['--clickhouse-tls-client-cert', '/c.pem'], {}, undefined, /client_cert and client_key must be set together/],
    ['host given as a URL', ['--clickhouse-host', 'https://ch.example.com'], {}, undefined, /^clickhouse\.host: "https:\/\/ch\.example\.com" must be a host name, not a URL/],
    ['embedded engine on a public address', ['--clickhouse-protocol', 'embedded', '--transport', 'http'], {}, undefined, /only listens on loopback/],
    ['header map in wrong shape from env', [], { CLICKHOUSE_HTTP_HEADERS: 'novalue' }, undefined, /^clickhouse\.http_headers: got "novalue", expected comma-separated key=value pairs/],
    ['list given as a mapping in file', [], {}, 'server:\n  tool_input_settings:\n    a: b\n', /^server\.tool_input_settings: got \{"a":"b"\}, expected a list of strings/],
    ['tools given as a string in file', [], {}, 'server:\n  tools: execute_query\n', /^server\.tools: got "execute_query", expected a list of mappings/],
    ['bad --openapi value', ['--openapi', 'yes'], {}, undefined, /^openapi: got "yes", expected one of disable, http, https/],
    ['max_execution_time zero from env', [], { CLICKHOUSE_MAX_EXECUTION_TIME: '0' }, undefined, /^clickhouse\.max_execution_time: got "0", expected an integer >= 1/],
    ['bad role_filter regexp', ['--transport', 'http'], { MCP_OAUTH_ENABLED: 'true', MCP_OAUTH_ISSUER: 'https://idp.example.com', MCP_OAUTH_AUDIENCE: 'https://mcp.example.com', MCP_OAUTH_ROLE_FILTER: '(' }, undefined, /^server\.oauth\.role_filter: oauth: role_filter is not a valid regex/],
    ['body limit too small', ['--max-body-bytes', '10'], {}, undefined, /^server\.max_body_bytes: got "10", expected an integer >= 1024/],
  ];

  it.each(cases)('%s', (_name, argv, env, file, pattern) => {
    const files: Record<string, string> = file ? { '/bad.yaml': file } : {};
    const issues = loadError(file ? ['--config', '/bad.yaml', ...argv] : argv, env, files);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(pattern);
  });

  it('JWE with its secret boots, with the generator behind a 32-byte admin token (secrets never in a message)', () => {
    const loaded = loadConfig({
      args: parseArgs(['--allow-jwe-auth', '--transport', 'http', '--jwe-tls-material-dir', '/etc/gateway/jwe-tls', '--jwe-token-generator']),
      env: { MCP_JWE_SECRET_KEY: 'k', MCP_JWE_TOKEN_GENERATOR_ADMIN_TOKEN: 'an-admin-token-of-at-least-32-bytes' },
    });
    expect(loaded.config.server.jwe).toEqual({
      enabled: true,
      jwe_secret_key: 'k',
      jwt_secret_key: '',
      tls_material_dir: '/etc/gateway/jwe-tls',
      token_generator: { enabled: true, admin_token: 'an-admin-token-of-at-least-32-bytes', max_expiry_seconds: 86400 },
    });
    const short = loadError(['--allow-jwe-auth', '--transport', 'http', '--jwe-token-generator'], { MCP_JWE_SECRET_KEY: 'k', MCP_JWE_TOKEN_GENERATOR_ADMIN_TOKEN: 'short-admin-secret' });
    expect(short.join('\n')).not.toContain('short-admin-secret');
  });

  it('reports every bad key at once, never a secret value', () => {
    const issues = loadError(['--clickhouse-port', 'x', '--port', 'y'], { CLICKHOUSE_PASSWORD: 'hunter2', MCP_JWE_SECRET_KEY: 'topsecret' });
    expect(issues).toHaveLength(2);
    const files = { '/s.yaml': 'server:\n  jwe:\n    jwe_secret_key: [topsecret]\n' };
    const secretIssue = loadError(['--config', '/s.yaml'], {}, files);
    expect(secretIssue[0]).toMatch(/^server\.jwe\.jwe_secret_key: got "\*\*\*", expected a string/);
    expect(secretIssue.join()).not.toContain('topsecret');
  });

  it('explains unreadable and unparsable files', () => {
    expect(loadError(['--config', '/nope.yaml'])[0]).toBe('failed to load config file: failed to read config file /nope.yaml: no such file');
    expect(loadError(['--config', '/b.yaml'], {}, { '/b.yaml': 'clickhouse: [\n' })[0]).toMatch(/^failed to load config file: failed to parse YAML config file \/b\.yaml:/);
    expect(loadError(['--config', '/b.json'], {}, { '/b.json': '{"a":' })[0]).toMatch(/^failed to load config file: failed to parse JSON config file \/b\.json:/);
    expect(loadError(['--config', '/b.conf'], {}, { '/b.conf': ': : [' })[0]).toMatch(/as YAML or JSON: YAML error: .*, JSON error: /);
    expect(loadError(['--config', '/l.yaml'], {}, { '/l.yaml': '- a\n- b\n' })[0]).toMatch(/must hold a mapping of keys/);
  });
});

describe('warnings', () => {
  it('warns about unknown keys with a did-you-mean hint', () => {
    const { warnings } = load(['--config', '/w.yaml'], {}, { '/w.yaml': 'clickhouse:\n  hots: x\nserver:\n  tools:\n    - type: read\n      nmae: execute_query\n' });
    expect(warnings).toContain('unknown config key "clickhouse.hots" is ignored; did you mean "clickhouse.host"?');
    expect(warnings).toContain('unknown config key "server.tools[0].nmae" is ignored; did you mean "name"?');
  });

  it('warns about removed altinity-mcp keys with their exact text', () => {
    const { warnings, config } = load(['--config', `${FIXTURES}removed-oauth-keys.yaml`]);
    expect(config.clickhouse.host).toBe('ch.example.com');
    expect(warnings).toContain(
      'config key "clickhouse.cluster_name" is no longer honored (silently dropped on unmarshal). Same as cluster_secret — drop both together.',
    );
    expect(warnings).toContain('config key "server.oauth.mode" is no longer honored (silently dropped on unmarshal). Removed — use server.oauth.broker: true or false.');
    expect(warnings.filter((w) => w.includes('no longer honored'))).toHaveLength(5);
  });

  it('warns about non custom_ tool input settings and the deprecated limit', () => {
    const { warnings } = load(['--tool-input-settings', 'tenant', '--clickhouse-limit', '100']);
    expect(warnings).toContain(
      "tool_input_settings: setting \"tenant\" does not start with 'custom_'; ensure custom_settings_prefixes is configured on ClickHouse",
    );
    expect(warnings).toContain('clickhouse.limit is deprecated; use clickhouse.max_result_rows');
  });
});

describe('altinity-mcp documentation examples load with the same meaning', () => {
  const fixture = (name: string) => load(['--config', `${FIXTURES}${name}`]);

  it('README configuration file', () => {
    const { config, warnings } = fixture('readme-config-file.yaml');
    expect(config.clickhouse).toMatchObject({ host: 'localhost', port: 8123, database: 'default', protocol: 'http', read_only: false, max_execution_time: 600 });
    expect(config.server).toMatchObject({ transport: 'stdio', address: '0.0.0.0', port: 8080, openapi: { enabled: false, tls: false } });
    expect(config.server.dynamic_tools).toEqual([
      { regexp: 'mydb\\..*', prefix: 'db_' },
      { name: 'get_user_data', regexp: 'users\\.user_info_view' },
    ]);
    expect(config.logging.level).toBe('info');
    expect(warnings).toContain('unknown config key "server.jwt" is ignored; did you mean "server.jwe"?');
  });

  it('JSON configuration file', () => {
    const { config } = fixture('readme-config-file.json');
    expect(config.clickhouse).toMatchObject({ host: 'ch.internal', port: 8443, database: 'analytics', username: 'reader', read_only: true, tls: { enabled: true } });
    expect(config.server).toMatchObject({ transport: 'http', address: '127.0.0.1', port: 9090, openapi: { enabled: true } });
    expect(config.logging.level).toBe('warn');
  });

  it('docs/tools.md examples', () => {
    expect(fixture('docs-tools-minimal.yaml').config.server.tools).toEqual([]);
    const ro = fixture('docs-tools-readonly-views.yaml').config;
    expect(ro.clickhouse.read_only).toBe(true);
    expect(ro.server.tools).toEqual([
      { type: 'read', name: 'execute_query' },
      { type: 'read', view_regexp: 'analytics\\..*_view', prefix: 'analytics_' },
    ]);
    expect(fixture('docs-tools-mixed.yaml').config.server.tools[2]).toEqual({ type: 'write', table_regexp: 'events\\..*', prefix: 'log_', mode: 'insert' });
    expect(fixture('docs-tools-legacy-dynamic.yaml').config.server.dynamic_tools).toEqual([{ regexp: 'mydb\\..*', prefix: 'db_' }]);
  });

  it('Helm chart defaults', () => {
    const { config, warnings } = fixture('helm-chart-defaults.yaml');
    expect(config.clickhouse).toMatchObject({ max_execution_time: 30, max_result_rows: 1000 });
    expect(config.server.transport).toBe('http');
    expect(config.multicluster).toMatchObject({ enabled: false, catalog_cache_max: 10000, catalog_ttl_fallback: 900_000, catalog_negative_ttl: 60_000 });
    expect(warnings).toEqual(['unknown config key "server.jwe.token_param" is ignored']);
  });

  it('README environment example, with env over file', () => {
    const { config } = load(['--config', `${FIXTURES}helm-chart-defaults.yaml`], {
      CLICKHOUSE_HOST: 'localhost',
      CLICKHOUSE_PORT: '8123',
      CLICKHOUSE_DATABASE: 'analytics',
      CLICKHOUSE_LIMIT: '5000',
      MCP_TRANSPORT: 'http',
      MCP_PORT: '8080',
      LOG_LEVEL: 'debug',
    });
    expect(config.clickhouse).toMatchObject({ database: 'analytics', limit: 5000, max_result_rows: 1000 });
    expect(config.logging.level).toBe('debug');
  });
});
