import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveJweKey } from '../../src/auth/jwe/jwe-token.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { MCP_POST_HEADERS, rawHttp } from '../mcp/mcp-e2e-helpers.js';
import { ADMIN_TOKEN, JWE_SECRET, jweFlags } from './jwe-http-helpers.js';

/** upstream §G.4 vectors for the protected `POST /jwe-token-generator`, against a running gateway. */

const AUTH = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const VALID = '{"host":"ch.example","username":"alice"}';

/** Claims of a minted token (this gateway has no JWT secret: plain JSON payload). */
async function claimsOf(token: string): Promise<Record<string, unknown>> {
  const { plaintext } = await compactDecrypt(token, deriveJweKey(JWE_SECRET));
  return JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>;
}

function generate(gw: TestGateway, body: string | Buffer, headers: Record<string, string> = AUTH, method = 'POST') {
  return rawHttp(gw.url, { method, path: '/jwe-token-generator', headers: { 'Content-Type': 'application/json', ...headers }, body });
}

describe('POST /jwe-token-generator (enabled)', () => {
  let gw: TestGateway;
  let small: TestGateway;
  let root: string;
  let dir: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'jwegen-'));
    dir = join(root, 'allowed');
    mkdirSync(dir);
    mkdirSync(join(root, 'allowed-sibling'));
    writeFileSync(join(dir, 'ca.pem'), 'x');
    writeFileSync(join(root, 'outside.pem'), 'x');
    symlinkSync(join(root, 'outside.pem'), join(dir, 'escape.pem'));
    symlinkSync(join(dir, 'ca.pem'), join(dir, 'inside.pem'));
    const common = ['--jwe-token-generator', '--jwe-token-generator-admin-token', ADMIN_TOKEN, '--jwe-tls-material-dir', dir];
    // No JWT secret here: tokens are plain JSON (cty JSON), so the test reads the claims with the JWE key alone.
    const flags = jweFlags(common).filter((f, i, all) => f !== '--jwt-secret-key' && all[i - 1] !== '--jwt-secret-key');
    gw = await startGateway(flags);
    small = await startGateway([...flags, '--jwe-token-generator-max-expiry-seconds', '1234']);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await small?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it.each([
    ['none', undefined, 401],
    ['Bearer <32 x>', `Bearer ${'x'.repeat(32)}`, 401],
    ['Bearer short', 'Bearer short', 401],
    ['Basic <secret>', `Basic ${ADMIN_TOKEN}`, 401],
    ['Bearer  <secret> (two spaces)', `Bearer  ${ADMIN_TOKEN}`, 401],
    ['Bearer <secret>', `Bearer ${ADMIN_TOKEN}`, 200],
    ['bearer <secret>', `bearer ${ADMIN_TOKEN}`, 200],
  ])('Authorization %s → %s', async (_name, header, status) => {
    const res = await generate(gw, VALID, header === undefined ? {} : { Authorization: header });
    expect(res.status).toBe(status);
    if (status === 401) {
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body).toBe('Unauthorized\n');
      expect(res.body).not.toContain(ADMIN_TOKEN);
    }
  });

  it('the right token with GET → 405 and Allow: POST; without it → 401 first', async () => {
    const res = await generate(gw, '', AUTH, 'GET');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect((await generate(gw, '', {}, 'GET')).status).toBe(401);
  });

  it('a valid body → 200 JSON, no-store, exp ≈ now+3600, a token that works at /{token}', async () => {
    const res = await generate(gw, JSON.stringify({ host: CH_TEST_HOST, port: CH_TEST_PORT, username: 'default', limit: 5, tls_ca_cert: '' }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    const { token } = JSON.parse(res.body) as { token: string };
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'A256KW', enc: 'A256GCM', cty: 'JSON', typ: 'JWE' });
    const claims = await claimsOf(token);
    expect(claims).toMatchObject({ host: CH_TEST_HOST, port: CH_TEST_PORT, username: 'default', limit: 5 });
    expect(Object.keys(claims).sort()).toEqual(['exp', 'host', 'limit', 'port', 'username']);
    expect(Math.abs((claims.exp as number) - (Date.now() / 1000 + 3600))).toBeLessThan(5);
    const call = await rawHttp(gw.url, {
      path: `/${token}`,
      headers: MCP_POST_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1 AS one' } } }),
    });
    expect(call.status).toBe(200);
    // The issue log carries host, username and expiry only.
    const issued = gw.logs.filter((l) => l.includes('Issued JWE token')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(issued.length).toBeGreaterThan(0);
    expect(issued.at(-1)).toMatchObject({ host: CH_TEST_HOST, username: 'default', expiry: 3600 });
    expect(gw.logs.join('\n')).not.toContain(token);
  });

  it.each<[string, string | Buffer, number, Partial<{ small: boolean }>?]>([
    ['expiry 86400', '{"host":"ch.example","username":"alice","expiry":86400}', 200],
    ['expiry 86401', '{"host":"ch.example","username":"alice","expiry":86401}', 400],
    ['expiry -1', '{"host":"ch.example","username":"alice","expiry":-1}', 400],
    ['expiry 1234 with max 1234', '{"host":"ch.example","username":"alice","expiry":1234}', 200, { small: true }],
    ['default expiry with max 1234', VALID, 400, { small: true }],
    ['expiry 9223372036854775807', '{"host":"ch.example","username":"alice","expiry":9223372036854775807}', 400],
    ['missing host', '{"username":"alice"}', 400],
    ['missing username', '{"host":"ch.example"}', 400],
    ['null', 'null', 400],
    ['not-json', 'not-json', 400],
    ['two objects', `${VALID}${VALID}`, 400],
    ['object followed by null', `${VALID} null`, 400],
    ['object followed by !', `${VALID}!`, 400],
    ['an array', '[]', 400],
    ['port as a string', '{"host":"ch.example","username":"alice","port":"8123"}', 400],
    ['port as a fraction', '{"host":"ch.example","username":"alice","port":8123.5}', 400],
    ['body padded to exactly 65536 bytes', VALID.padEnd(65536, ' '), 200],
    ['65536 bytes of padding after the object', `${VALID}${' '.repeat(65536)}`, 413],
    ['65537 × !', '!'.repeat(65537), 413],
    ['a password longer than 64 KiB', JSON.stringify({ host: 'ch.example', username: 'alice', password: 'p'.repeat(65536) }), 413],
  ])('%s → %s', async (_name, body, status, opts) => {
    const res = await generate(opts?.small ? small : gw, body);
    expect(res.status).toBe(status);
    expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it.each([' ', '\t\r\n', '\u00a0', '\u2003', ' \u00a0\t'])('blank host or username %j → 400 with the incomplete-token text', async (blank) => {
    for (const body of [{ host: blank, username: 'alice' }, { host: 'ch.example', username: blank }]) {
      const res = await generate(gw, JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.body).toBe('jwe: token must carry host and username claims\n');
    }
  });

  it('TLS paths: checked against tls_material_dir whatever tls_enabled says; minted as requested', async () => {
    for (const field of ['tls_ca_cert', 'tls_client_cert', 'tls_client_key']) {
      for (const tls_enabled of [true, false]) {
        for (const bad of ['ca.pem', join(root, 'outside.pem'), join(root, 'allowed-sibling', 'ca.pem'), `${dir}/../outside.pem`, join(dir, 'escape.pem'), join(dir, 'missing.pem')]) {
          const res = await generate(gw, JSON.stringify({ host: 'h', username: 'u', tls_enabled, [field]: bad }));
          expect(res.status, `${field} ${bad}`).toBe(400);
          expect(res.body).toBe('jwe: invalid TLS material path\n');
        }
        for (const good of [join(dir, 'ca.pem'), join(dir, 'inside.pem')]) {
          const res = await generate(gw, JSON.stringify({ host: 'h', username: 'u', tls_enabled, [field]: good }));
          expect(res.status).toBe(200);
          const claims = await claimsOf((JSON.parse(res.body) as { token: string }).token);
          expect(claims[field]).toBe(good);
          expect(claims.tls_enabled).toBe(tls_enabled ? true : undefined);
        }
      }
    }
  });

  it('tls_insecure_skip_verify is minted only with tls_enabled', async () => {
    const off = await generate(gw, JSON.stringify({ host: 'h', username: 'u', tls_insecure_skip_verify: true }));
    expect(await claimsOf((JSON.parse(off.body) as { token: string }).token)).not.toHaveProperty('tls_insecure_skip_verify');
    const on = await generate(gw, JSON.stringify({ host: 'h', username: 'u', tls_enabled: true, tls_insecure_skip_verify: true }));
    expect(await claimsOf((JSON.parse(on.body) as { token: string }).token)).toMatchObject({ tls_enabled: true, tls_insecure_skip_verify: true });
  });
});

describe('POST /jwe-token-generator (disabled)', () => {
  it.each([
    ['JWE on, generator off', jweFlags()],
    ['JWE off, generator off', ['--clickhouse-host', CH_TEST_HOST, '--clickhouse-port', String(CH_TEST_PORT)]],
  ])('%s → 404 for any method and any credentials', async (_name, flags) => {
    const gw = await startGateway(flags);
    try {
      for (const method of ['GET', 'POST']) {
        for (const headers of [{}, AUTH]) {
          const res = await generate(gw, method === 'GET' ? '' : VALID, headers, method);
          expect(res.status, `${method} ${JSON.stringify(headers)}`).toBe(404);
        }
      }
    } finally {
      await gw.close();
    }
  });
});
