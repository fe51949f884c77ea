import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CompactEncrypt } from 'jose';
import { deriveJweKey, mintJweToken, type JweConnectionClaims } from '../../src/auth/jwe/jwe-token.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';

/** Secrets of the JWE gateways under test (the JWT secret makes tokens nested HS256, as most Go deployments mint). */
export const JWE_SECRET = `jwe-http-e2e-${randomBytes(4).toString('hex')}-secret`;
export const JWT_SECRET = `jwt-http-e2e-${randomBytes(4).toString('hex')}-secret`;
export const ADMIN_TOKEN = 'fake-generator-admin-32-byte-secret';

/** Flags of a JWE-only gateway whose operator connection is `tester`/`secret` (never to be used for a token). */
export function jweFlags(extra: string[] = []): string[] {
  return [
    '--allow-jwe-auth',
    '--jwe-secret-key',
    JWE_SECRET,
    '--jwt-secret-key',
    JWT_SECRET,
    '--clickhouse-host',
    CH_TEST_HOST,
    '--clickhouse-port',
    String(CH_TEST_PORT),
    '--clickhouse-username',
    'tester',
    '--clickhouse-password',
    'secret',
    ...extra,
  ];
}

const hour = () => Math.floor(Date.now() / 1000) + 3600;

/** A token for the shared ClickHouse test server (an hour of validity unless `exp` is given). */
export function chToken(username: string, password: string | undefined, extra: Partial<JweConnectionClaims> = {}): Promise<string> {
  const claims: JweConnectionClaims = { host: CH_TEST_HOST, port: CH_TEST_PORT, username, exp: hour(), ...extra };
  if (password !== undefined) claims.password = password;
  return mintJweToken(claims, { jweSecretKey: JWE_SECRET, jwtSecretKey: JWT_SECRET });
}

/** Encrypts any plaintext under the test JWE secret (for tokens no honest minter makes). */
export function encryptRaw(plaintext: string, header: Record<string, unknown> = { alg: 'A256KW', enc: 'A256GCM', cty: 'JSON', typ: 'JWE' }): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader(header as never).encrypt(deriveJweKey(JWE_SECRET));
}

/**
 * A TCP listener on loopback that counts connections: tokens that must be refused point their `host`/`port` at
 * it, so "nothing reached ClickHouse" is observed, not assumed.
 */
export class Canary {
  connections = 0;
  private server?: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((socket) => {
      this.connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
