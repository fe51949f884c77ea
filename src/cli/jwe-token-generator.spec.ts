import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { builtGatewayMain } from '../../test/support/built-gateway.js';

/** The compiled CLI, run as a process the way an operator (or `docker run image jwe-token-generator`) runs it. */
function cli(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [join(dirname(builtGatewayMain()), 'cli', 'jwe-token-generator.js'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('jwe-token-generator as a process', () => {
  it('prints the token in altinity-mcp\'s output lines, decryptable with SHA-256 of the secret', async () => {
    const r = cli(['--host', 'ch.internal', '--username', 'alice', '--expiry', '120'], { MCP_JWE_SECRET_KEY: 'cli-secret' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual(['', 'Example usage with SSE transport:']);
    const token = lines[4]!;
    expect(lines[2]).toBe(`curl "http://localhost:8080/${token}/sse"`);
    expect(lines[3]).toBe('JWE Token:');
    const key = new Uint8Array(createHash('sha256').update('cli-secret').digest());
    const { plaintext } = await compactDecrypt(token, key, { keyManagementAlgorithms: ['A256KW'], contentEncryptionAlgorithms: ['A256GCM'] });
    const claims = JSON.parse(new TextDecoder().decode(plaintext)) as { host: string; username: string; exp: number };
    expect(claims).toMatchObject({ host: 'ch.internal', username: 'alice' });
    expect(Math.abs(claims.exp - (Date.now() / 1000 + 120))).toBeLessThan(30);
  });

  it('no secret: exit 2, one clear line, no stack trace', () => {
    const r = cli(['--host', 'h', '--username', 'u']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("error: a JWE secret is required: set MCP_JWE_SECRET_KEY (or --jwe-secret-key) to the server's server.jwe.jwe_secret_key");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('no host: exit 2, says which flag, does not echo the secret', () => {
    const r = cli(['--username', 'u', '--jwe-secret-key', 'do-not-print-me']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --host is required');
    expect(r.stderr).toContain('jwe-token-generator --help');
    expect(r.stderr + r.stdout).not.toContain('do-not-print-me');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('-h prints the usage and exits 0', () => {
    const r = cli(['-h']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: jwe-token-generator --host HOST --username USER/);
  });
});
