import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JweAuthenticatorService } from '../../src/auth/jwe/jwe-authenticator.service.js';
import { connectionFromClaims } from '../../src/auth/jwe/jwe-claims.js';
import { deriveJweKey, deriveJweKeys, mintJweToken, parseJweToken } from '../../src/auth/jwe/jwe-token.js';
import { connectionFromConfig } from '../../src/clickhouse/connection-spec.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import type { ConfigStore } from '../../src/config/config.store.js';
import type { GatewayConfig } from '../../src/config/config.types.js';

interface GoVector {
  name: string;
  description: string;
  token: string;
  server: { jwe_secret_key: string; jwt_secret_key: string };
  claims?: Record<string, unknown>;
  outcome: string;
  message?: string;
}

const FIXTURE = new URL('../fixtures/jwe-go/vectors.json', import.meta.url);
const { vectors } = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { vectors: GoVector[] };

/** A ConfigStore stand-in holding one snapshot: JWE on with the given secrets, everything else the defaults. */
function storeFor(jwe: Partial<GatewayConfig['server']['jwe']>, ch: Partial<GatewayConfig['clickhouse']> = {}): ConfigStore {
  const config = loadConfig({ args: parseArgs([]), env: {} }).config;
  Object.assign(config.server.jwe, { enabled: true }, jwe);
  Object.assign(config.clickhouse, ch);
  return { current: config } as unknown as ConfigStore;
}

describe('tokens minted by go-jose v2 (test/fixtures/jwe-go)', () => {
  it('the fixture covers every outcome the core can reach', () => {
    expect(new Set(vectors.map((v) => v.outcome))).toEqual(
      new Set(['ok', 'expired', 'bad_signature', 'disallowed_claim', 'malformed', 'missing_claim', 'invalid_claim']),
    );
    expect(vectors.length).toBeGreaterThanOrEqual(30);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s', async (_name, v) => {
    const auth = new JweAuthenticatorService(storeFor({ jwe_secret_key: v.server.jwe_secret_key, jwt_secret_key: v.server.jwt_secret_key }));
    const result = await auth.authenticate(v.token);
    if (v.outcome !== 'ok') {
      expect(result, v.description).toEqual({ ok: false, outcome: v.outcome, message: v.message });
      return;
    }
    // The claims decrypt exactly as Go wrote them (numbers stay numbers, nothing added or lost) ...
    const parsed = await parseJweToken(v.token, deriveJweKeys(v.server.jwe_secret_key, v.server.jwt_secret_key), Date.now() / 1000);
    expect(parsed.ok && parsed.claims, v.description).toEqual(v.claims);
    // ... and become the token's own connection.
    expect(result.ok, v.description).toBe(true);
    if (!result.ok) return;
    const claims = v.claims!;
    expect(result.identity).toMatchObject({ kind: 'jwe', subject: claims.username });
    expect(result.connection).toMatchObject({
      selfContained: true,
      host: claims.host,
      username: claims.username,
      port: typeof claims.port === 'number' ? claims.port : 8123,
      password: claims.password ?? '',
      database: claims.database ?? '',
      tls: claims.tls_enabled === true,
    });
    if (typeof claims.exp === 'number') expect(result.expiresAt).toBe(Math.trunc(claims.exp));
    else expect(result.expiresAt).toBeUndefined();
  });
});

describe('auth spec appendix A: key derivation', () => {
  it.each([
    ['your-jwe-secret', '307668e583e431541e3bccd8dcd1790fc24e2b98b9343d748c5d51f08b54a48e'],
    ['test-jwe-secret', '67e9ecba47b048f12505ac5458395818f1a836ae099884295039cd6911e540be'],
    ['test-jwt-secret', '6e0d0bede3f1e7e8b69b57b841f1c66c0a23a7852bf47a7b7eeaaf1c8b9cb3ce'],
  ])('SHA-256(%s)', (secret, hex) => {
    expect(Buffer.from(deriveJweKey(secret)).toString('hex')).toBe(hex);
  });

  it('a token minted with the appendix secrets by the gateway round-trips (nested and JSON)', async () => {
    for (const jwt of ['test-jwt-secret', '']) {
      const token = await mintJweToken({ host: 'h', username: 'u', exp: 4_102_444_800 }, { jweSecretKey: 'test-jwe-secret', jwtSecretKey: jwt });
      const parsed = await parseJweToken(token, deriveJweKeys('test-jwe-secret', jwt), Date.now() / 1000);
      expect(parsed).toEqual({ ok: true, claims: { host: 'h', username: 'u', exp: 4_102_444_800 }, expiresAt: 4_102_444_800 });
    }
  });
});

describe('auth spec §5 JWE vectors 1-13 (as superseded by upstream §B)', () => {
  const JWE = 'this-is-a-32-byte-secret-key!!';
  const JWT = 'test-jwt-secret-key-123';
  const now = () => Date.now() / 1000;
  const keys = deriveJweKeys(JWE, JWT);
  const auth = () => new JweAuthenticatorService(storeFor({ jwe_secret_key: JWE, jwt_secret_key: JWT }));

  it('1: a nested token with host/port/database/username/password/protocol, exp now+1h, is accepted', async () => {
    const claims = { host: 'localhost', port: 8123, database: 'default', username: 'default', password: 'pw', protocol: 'http', exp: Math.floor(now()) + 3600 };
    const result = await auth().authenticate(await mintJweToken(claims, { jweSecretKey: JWE, jwtSecretKey: JWT }));
    expect(result).toMatchObject({ ok: true, connection: { host: 'localhost', port: 8123, username: 'default', password: 'pw', database: 'default' } });
  });

  it('2: an empty token is "missing JWE token"; 3: "invalid-token" is "invalid JWE token"', async () => {
    expect(await auth().authenticate('')).toEqual({ ok: false, outcome: 'malformed', message: 'missing JWE token' });
    expect(await auth().authenticate('invalid-token')).toEqual({ ok: false, outcome: 'malformed', message: 'invalid JWE token' });
  });

  it('4: exp = now-1h is refused in nested and JSON modes; exp == now is still valid (no skew either way)', async () => {
    const t = Math.floor(now());
    for (const jwtSecretKey of [JWT, undefined]) {
      const old = await mintJweToken({ host: 'h', username: 'u', exp: t - 3600 }, { jweSecretKey: JWE, jwtSecretKey });
      expect(await parseJweToken(old, keys, t)).toMatchObject({ ok: false, reason: 'expired' });
      const edge = await mintJweToken({ host: 'h', username: 'u', exp: t }, { jweSecretKey: JWE, jwtSecretKey });
      expect(await parseJweToken(edge, keys, t + 0.999)).toMatchObject({ ok: true, expiresAt: t });
      expect(await parseJweToken(edge, keys, t + 1)).toMatchObject({ ok: false, reason: 'expired' });
    }
  });

  it('5: exp "not-a-number" (and true, null, an object) is invalid; nbf and iat are never checked', async () => {
    for (const exp of ['not-a-number', true, null, { at: 1 }]) {
      const token = await mintJweToken({ host: 'h', username: 'u', exp } as never, { jweSecretKey: JWE });
      expect(await parseJweToken(token, keys, now())).toEqual({ ok: false, reason: 'malformed', message: 'invalid JWE token' });
    }
    const future = Math.floor(now()) + 10_000;
    const token = await mintJweToken({ host: 'h', username: 'u', nbf: future, iat: future, exp: future } as never, { jweSecretKey: JWE });
    expect((await parseJweToken(token, keys, now())).ok).toBe(true);
  });

  it('6: an extra claim is refused with Go\'s exact text', async () => {
    const token = await mintJweToken({ host: 'h', username: 'u', invalid: 'x' } as never, { jweSecretKey: JWE, jwtSecretKey: JWT });
    expect(await auth().authenticate(token)).toEqual({ ok: false, outcome: 'disallowed_claim', message: "invalid token claims format: disallowed claim key 'invalid'" });
  });

  it('7-10: see the Go vectors no_exp_*, cty_invalid_nested, nested_without_jwt_secret, json_with_jwt_secret', () => {
    const names = new Set(vectors.map((v) => v.name));
    for (const name of ['no_exp_json', 'no_exp_nested', 'cty_invalid_nested', 'nested_without_jwt_secret', 'json_with_jwt_secret']) {
      expect(names).toContain(name);
    }
  });

  it('12: "has credentials" now needs host and username: {username,password} and {host} are incomplete', () => {
    const ctx = { operatorProtocol: 'http', tlsMaterialDir: '' };
    expect(connectionFromClaims({ username: 'admin', password: 'secret' }, ctx)).toMatchObject({ ok: false, reason: 'missing_claim' });
    expect(connectionFromClaims({ host: 'localhost' }, ctx)).toMatchObject({ ok: false, reason: 'missing_claim' });
    expect(connectionFromClaims({ host: 'localhost', username: 'admin' }, ctx)).toMatchObject({ ok: true });
  });

  it('13: port 9000.0 and limit 500.0 are taken (truncated); host 123 / port "invalid" is now incomplete, not inherited', () => {
    const ctx = { operatorProtocol: 'http', tlsMaterialDir: '' };
    expect(connectionFromClaims({ host: 'h', username: 'u', port: 9000.0, protocol: 'http', limit: 500.7 }, ctx)).toMatchObject({
      ok: true,
      connection: { port: 9000, limit: 500 },
    });
    expect(connectionFromClaims({ host: 123, port: 'invalid', username: 'u' }, ctx)).toMatchObject({ ok: false, reason: 'missing_claim' });
    expect(connectionFromClaims({ host: 'h', username: 'u', port: 'invalid' }, ctx)).toMatchObject({ ok: true, connection: { port: 8123 } });
  });
});

describe('upstream §B.4: the full operator base gives a token nothing but its guard rails', () => {
  it('claims {host: token-host, username: token-user} with password absent, "" or set', async () => {
    const store = storeFor(
      { jwe_secret_key: 's' },
      {
        host: 'operator-host',
        connect_host: '10.0.0.25',
        port: 8443,
        database: 'operator_db',
        username: 'operator-user',
        password: 'operator-password',
        tls: { enabled: true, ca_cert: '/op/ca.pem', client_cert: '/op/c.pem', client_key: '/op/k.pem', insecure_skip_verify: true },
        read_only: true,
        max_execution_time: 17,
        limit: 999,
        max_result_rows: 23,
        http_headers: { Authorization: 'Bearer operator-bearer' },
        extra_settings: { custom_scope: 'operator-setting' },
      },
    );
    const auth = new JweAuthenticatorService(store);
    for (const password of [undefined, '', 'fake-token-password']) {
      const token = await mintJweToken({ host: 'token-host', username: 'token-user', ...(password !== undefined ? { password } : {}) } as never, { jweSecretKey: 's' });
      const result = await auth.authenticate(token);
      if (!result.ok) throw new Error(result.message);
      const spec = connectionFromConfig(store.current.clickhouse, result.connection);
      expect(spec).toEqual({
        protocol: 'http',
        host: 'token-host',
        port: 8123,
        database: '',
        username: 'token-user',
        password: password ?? '',
        tls: { enabled: false, caCert: undefined, clientCert: undefined, clientKey: undefined, insecureSkipVerify: false },
        httpHeaders: {},
        settings: { custom_scope: 'operator-setting' },
        maxExecutionTime: 17,
        readOnly: true,
        embeddedPath: '',
      });
      spec.settings.custom_scope = 'mutated';
      expect(store.current.clickhouse.extra_settings).toEqual({ custom_scope: 'operator-setting' });
    }
  });
});
