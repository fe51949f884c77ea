import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { ConfigError, loadConfig } from './config.loader.js';

const DIR = fileURLToPath(new URL('../../config/', import.meta.url));

// The examples keep secrets out of the file and name the env vars instead; loaded here as a deployment would.
const OAUTH_SECRETS = { MCP_OAUTH_CLIENT_SECRET: 'client-secret-from-a-k8s-secret', MCP_OAUTH_SIGNING_SECRET: 'a-signing-secret-of-at-least-32-bytes!!' };

/** Examples that load as they are once their secrets arrive from the environment (as in a deployment). */
const SECRETS_FROM_ENV: Record<string, Record<string, string>> = {
  'jwe.example.yaml': { MCP_JWE_SECRET_KEY: 'jwe-secret-from-a-k8s-secret' },
  'oauth-broker.example.yaml': OAUTH_SECRETS,
  'jwe-oauth.example.yaml': { MCP_JWE_SECRET_KEY: 'jwe-secret-from-a-k8s-secret' },
  'oauth-broker-google.example.yaml': OAUTH_SECRETS,
  'oauth-broker-auth0.example.yaml': OAUTH_SECRETS,
  'oauth-broker-keycloak.example.yaml': OAUTH_SECRETS,
  // Multicluster requires OAuth (auth spec §3.2): this one uses the broker.
  'multicluster.example.yaml': OAUTH_SECRETS,
};

const load = (file: string, env: Record<string, string> = {}) => loadConfig({ args: parseArgs(['--config', `${DIR}${file}`]), env });

describe('the example files in config/', () => {
  const files = readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));

  it('cover every mode', () => {
    for (const name of [
      'minimal.example.yaml',
      'readonly-analyst.example.yaml',
      'demo.yaml',
      'production.example.yaml',
      'stdio.example.yaml',
      'jwe.example.yaml',
      'oauth-broker.example.yaml',
      'jwe-oauth.example.yaml',
      'oauth-resource-server.example.yaml',
      'oauth-broker-google.example.yaml',
      'oauth-broker-auth0.example.yaml',
      'oauth-broker-keycloak.example.yaml',
      'multicluster.example.yaml',
    ]) {
      expect(files).toContain(name);
    }
  });

  it.each(files)('%s starts with comments saying what it is for', (file) => {
    expect(readFileSync(`${DIR}${file}`, 'utf8')).toMatch(/^# \S.{20,}\n#/);
  });

  it.each(files)('%s loads without errors or warnings', (file) => {
    const loaded = load(file, SECRETS_FROM_ENV[file]);
    expect(loaded.warnings).toEqual([]);
  });

  it('jwe.example.yaml turns JWE on (the secret from env), the generator off and token TLS paths denied', () => {
    const { server } = load('jwe.example.yaml', SECRETS_FROM_ENV['jwe.example.yaml']).config;
    expect(server.jwe).toMatchObject({ enabled: true, jwe_secret_key: 'jwe-secret-from-a-k8s-secret', tls_material_dir: '' });
    expect(server.jwe.token_generator.enabled).toBe(false);
    expect(() => load('jwe.example.yaml')).toThrow(/JWE encryption is enabled but no JWE secret key is provided/);
  });

  it('multicluster.example.yaml turns multicluster on with a templated host, OAuth on, OpenAPI and JWE off', () => {
    const { config } = load('multicluster.example.yaml', SECRETS_FROM_ENV['multicluster.example.yaml']);
    expect(config.multicluster).toMatchObject({ enabled: true, reveal_unknown_clusters: false });
    expect(config.multicluster.cluster_allowlist.length).toBeGreaterThan(0);
    expect(config.clickhouse.host).toContain('{cluster}');
    expect(config.server).toMatchObject({ transport: 'http', oauth: { enabled: true }, openapi: { enabled: false }, jwe: { enabled: false } });
  });

  it('the OAuth examples turn OAuth on; a broker example without its secrets is refused with altinity-mcp\'s messages', () => {
    expect(load('oauth-resource-server.example.yaml').config.server.oauth).toMatchObject({ enabled: true, broker: false });
    expect(load('jwe-oauth.example.yaml', SECRETS_FROM_ENV['jwe-oauth.example.yaml']).config.server).toMatchObject({
      jwe: { enabled: true },
      oauth: { enabled: true, broker: false },
    });
    let refusal: unknown;
    try {
      load('oauth-broker-google.example.yaml');
    } catch (err) {
      refusal = err;
    }
    expect((refusal as ConfigError).issues).toEqual([
      'server.oauth.broker: oauth: broker=true requires upstream IdP fields: client_secret',
      'server.oauth.signing_secret: oauth signing_secret is required when oauth.broker=true',
    ]);
  });

  it('the read-only analyst example really is read-only and limited', () => {
    const { config } = load('readonly-analyst.example.yaml');
    expect(config.clickhouse.read_only).toBe(true);
    expect(config.server.tools.map((t) => t.name)).toEqual(['execute_query']);
    expect(config.clickhouse.max_result_rows).toBe(200);
  });
});
