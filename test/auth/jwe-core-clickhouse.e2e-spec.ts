import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JweAuthenticatorService } from '../../src/auth/jwe/jwe-authenticator.service.js';
import { mintJweToken } from '../../src/auth/jwe/jwe-token.js';
import type { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import type { ConfigStore } from '../../src/config/config.store.js';
import type { GatewayConfig } from '../../src/config/config.types.js';
import { CH_TEST_HOST, CH_TEST_PORT, chQuery } from '../setup/clickhouse-server.js';
import { failure, makeService, testConfig } from '../clickhouse/ch-test-helpers.js';

const SECRET = 'jwe-core-e2e-secret';
const TABLE = `default.jwe_core_${process.pid}`;
const FAR = 4_102_444_800;

/**
 * The token's own connection reaches the real ClickHouse 18.16 as the token's user. The operator's config is
 * deliberately pointed at a dead endpoint with another user's credentials: if anything of it leaked into a
 * token connection, these queries would fail or run as `default`.
 */
describe('JWE token connections against ClickHouse 18.16', () => {
  let config: GatewayConfig;
  let service: ClickHouseService;
  let auth: JweAuthenticatorService;

  beforeAll(async () => {
    config = testConfig({ host: '127.0.0.9', port: 1, username: 'default', password: 'operator-password-never-sent', http_headers: { 'X-Operator': 'leak' } });
    Object.assign(config.server.jwe, { enabled: true, jwe_secret_key: SECRET });
    service = makeService(config);
    auth = new JweAuthenticatorService({ current: config } as unknown as ConfigStore);
    await chQuery(`CREATE TABLE IF NOT EXISTS ${TABLE} (id UInt32) ENGINE = Memory`);
  });
  afterAll(async () => {
    await chQuery(`DROP TABLE IF EXISTS ${TABLE}`);
    await service.close();
  });

  async function connect(claims: Record<string, unknown>) {
    const result = await auth.authenticate(await mintJweToken({ host: CH_TEST_HOST, port: CH_TEST_PORT, exp: FAR, ...claims } as never, { jweSecretKey: SECRET }));
    if (!result.ok) throw new Error(`token refused: ${result.message}`);
    return service.connectionFromConfig(config.clickhouse, result.connection);
  }

  it('a tester/secret token runs as tester (seen in system.processes: 18.16 has no currentUser())', async () => {
    const conn = await connect({ username: 'tester', password: 'secret' });
    const marker = `jwe_core_marker_${process.pid}_${Date.now()}`;
    // The only query whose text holds the marker is this one: its own row says who runs it.
    const r = await service.query(conn, `SELECT user FROM system.processes WHERE query LIKE '%${marker}%'`);
    expect(r.rows).toEqual([['tester']]);
  });

  it('an ro token cannot write (ClickHouse refuses, the table stays empty)', async () => {
    const conn = await connect({ username: 'ro', password: 'ro' });
    const err = await failure(service.command(conn, `INSERT INTO ${TABLE} VALUES (1)`));
    expect(err.kind).toBe('readonly');
    expect(await chQuery(`SELECT count() FROM ${TABLE}`)).toBe('0\n');
  });

  it('a token without a password does not borrow the operator password (ClickHouse: password required)', async () => {
    const conn = await connect({ username: 'tester' });
    const err = await failure(service.query(conn, 'SELECT 1'));
    expect(err.serverMessage).toContain('Password required for user tester');
    expect(JSON.stringify(err)).not.toContain('operator-password-never-sent');
  });

  it('TLS files from the token that do not load give upstream\'s one sentence, never a path or loader error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwe-tls-material-'));
    try {
      writeFileSync(join(dir, 'cert.pem'), 'not a certificate');
      writeFileSync(join(dir, 'key.pem'), 'not a key');
      config.server.jwe.tls_material_dir = dir;
      const conn = await connect({ username: 'tester', password: 'secret', tls_enabled: true, tls_client_cert: join(dir, 'cert.pem'), tls_client_key: join(dir, 'key.pem') });
      const err = await failure(service.query(conn, 'SELECT 1'));
      expect(err.userMessage).toBe('jwe: failed to create ClickHouse client with TLS material');
      expect(err.serverMessage).toBe('jwe: failed to create ClickHouse client with TLS material');
      expect(JSON.stringify({ u: err.userMessage, s: err.serverMessage })).not.toContain(dir);
    } finally {
      config.server.jwe.tls_material_dir = '';
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
