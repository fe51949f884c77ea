import { createHash } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectionFromConfig } from '../../clickhouse/connection-spec.js';
import { parseArgs } from '../../config/config.cli.js';
import { loadConfig } from '../../config/config.loader.js';
import { ConfigStore } from '../../config/config.store.js';
import { JweAuthenticatorService, jweCacheKey } from './jwe-authenticator.service.js';
import { mintJweToken } from './jwe-token.js';

const JWE_SECRET = 'this-is-a-32-byte-secret-key!!';
const JWT_SECRET = 'test-jwt-secret-key-123';
const FAR = 4_102_444_800; // 2100-01-01

function storeWith(yaml: string): { store: ConfigStore; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'jwe-auth-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  const input = { args: parseArgs(['--config', file]), env: {} };
  return { store: new ConfigStore({ input, loaded: loadConfig(input) }), file };
}

const OPERATOR = `
clickhouse:
  host: operator-host
  connect_host: 10.0.0.25
  port: 8443
  database: operator_db
  username: operator_user
  password: operator-password
  read_only: true
  max_execution_time: 17
  max_result_rows: 23
  http_headers:
    Authorization: Bearer operator-bearer
    X-Static: "1"
  extra_settings:
    custom_scope: operator-setting
  tls:
    enabled: true
    insecure_skip_verify: true
server:
  transport: http
  jwe:
    enabled: true
    jwe_secret_key: ${JWE_SECRET}
    jwt_secret_key: ${JWT_SECRET}
`;

describe('JweAuthenticatorService', () => {
  let store: ConfigStore | undefined;
  afterEach(() => {
    store?.onApplicationShutdown();
    vi.useRealTimers();
  });

  it('a nested token becomes a self-contained connection: identity, claims, nothing of the operator', async () => {
    ({ store } = storeWith(OPERATOR));
    const auth = new JweAuthenticatorService(store);
    const token = await mintJweToken(
      { host: 'token-host', username: 'token-user', password: 'token-pw', database: 'sales', exp: FAR },
      { jweSecretKey: JWE_SECRET, jwtSecretKey: JWT_SECRET },
    );
    const result = await auth.authenticate(token);
    expect(result).toEqual({
      ok: true,
      identity: { kind: 'jwe', cacheKey: jweCacheKey(token), subject: 'token-user', expiresAt: FAR },
      connection: { selfContained: true, host: 'token-host', port: 8123, database: 'sales', username: 'token-user', password: 'token-pw', tls: false },
      expiresAt: FAR,
    });
    expect(jweCacheKey(token)).toMatch(/^tok:[0-9a-f]{64}$/);
    // upstream D.2: the JWE catalog key is CacheKey("jwe\x00" + token).
    expect(jweCacheKey(token)).toBe(`tok:${createHash('sha256').update(`jwe\u0000${token}`).digest('hex')}`);
    if (!result.ok) throw new Error('unreachable');
    const spec = connectionFromConfig(store.current.clickhouse, result.connection);
    expect(spec).toEqual({
      protocol: 'http',
      host: 'token-host',
      port: 8123,
      database: 'sales',
      username: 'token-user',
      password: 'token-pw',
      tls: { enabled: false, caCert: undefined, clientCert: undefined, clientKey: undefined, insecureSkipVerify: false },
      httpHeaders: {},
      settings: { custom_scope: 'operator-setting' },
      maxExecutionTime: 17,
      readOnly: true,
      embeddedPath: '',
    });
    expect(JSON.stringify(spec)).not.toMatch(/operator-password|operator-bearer|operator_user|10\.0\.0\.25|operator_db/);
  });

  it('maps each failure to its outcome with a message that carries no secret', async () => {
    ({ store } = storeWith(OPERATOR));
    const auth = new JweAuthenticatorService(store);
    const secrets = { jweSecretKey: JWE_SECRET, jwtSecretKey: JWT_SECRET };
    const cases: [string, Promise<string> | string, string, string][] = [
      ['expired', mintJweToken({ host: 'h', username: 'u', exp: 1000 }, secrets), 'expired', 'invalid JWE token: the token has expired'],
      ['wrong JWE secret', mintJweToken({ host: 'h', username: 'u', exp: FAR }, { jweSecretKey: 'other' }), 'bad_signature', 'invalid JWE token'],
      ['wrong JWT secret', mintJweToken({ host: 'h', username: 'u', exp: FAR }, { jweSecretKey: JWE_SECRET, jwtSecretKey: 'nope' }), 'bad_signature', 'invalid JWE token'],
      ['garbage', 'invalid-token', 'malformed', 'invalid JWE token'],
      ['empty', '', 'malformed', 'missing JWE token'],
      ['no host', mintJweToken({ username: 'u', password: 'pw-secret', exp: FAR } as never, secrets), 'missing_claim', 'jwe: token must carry host and username claims'],
      ['blank username', mintJweToken({ host: 'h', username: ' \t', exp: FAR }, secrets), 'missing_claim', 'jwe: token must carry host and username claims'],
      ['protocol native', mintJweToken({ host: 'h', username: 'u', protocol: 'native', exp: FAR }, secrets), 'invalid_claim', 'jwe: protocol must be http or tcp'],
      ['TLS path without allowlist', mintJweToken({ host: 'h', username: 'u', tls_ca_cert: '/etc/passwd', exp: FAR }, secrets), 'invalid_claim', 'jwe: invalid TLS material path'],
    ];
    for (const [name, token, outcome, message] of cases) {
      const result = await auth.authenticate(await token);
      expect(result, name).toEqual({ ok: false, outcome, message });
    }
  });

  it('caches a verified token by its hash, and a secret rotated by reload invalidates it', async () => {
    const made = storeWith(OPERATOR);
    store = made.store;
    const auth = new JweAuthenticatorService(store);
    const token = await mintJweToken({ host: 'h', username: 'u', exp: FAR }, { jweSecretKey: JWE_SECRET });
    const first = await auth.authenticate(token);
    expect(first.ok).toBe(true);
    expect(await auth.authenticate(token)).toBe(first); // the same frozen result: served from the cache
    expect(Object.isFrozen(first) && first.ok && Object.isFrozen(first.connection)).toBe(true);
    expect(auth.cachedTokens).toBe(1);

    writeFileSync(made.file, OPERATOR.replace(`jwe_secret_key: ${JWE_SECRET}`, 'jwe_secret_key: a-rotated-secret'));
    expect(store.reload().status).toBe('applied');
    expect(await auth.authenticate(token)).toEqual({ ok: false, outcome: 'bad_signature', message: 'invalid JWE token' });
    expect(auth.cachedTokens).toBe(0);
  });

  it('never serves a cached token past its exp (now > exp refuses; exp == now still passes)', async () => {
    ({ store } = storeWith(OPERATOR));
    const auth = new JweAuthenticatorService(store);
    vi.useFakeTimers({ toFake: ['Date'] });
    const exp = 2_000_000_000;
    vi.setSystemTime(exp * 1000 - 5_000);
    const token = await mintJweToken({ host: 'h', username: 'u', exp }, { jweSecretKey: JWE_SECRET });
    expect((await auth.authenticate(token)).ok).toBe(true);
    vi.setSystemTime(exp * 1000 + 999); // still second `exp`: valid, as in Go
    expect((await auth.authenticate(token)).ok).toBe(true);
    vi.setSystemTime(exp * 1000 + 1000);
    expect(await auth.authenticate(token)).toMatchObject({ ok: false, outcome: 'expired' });
  });
});
