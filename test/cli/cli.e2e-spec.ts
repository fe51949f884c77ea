import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chQuery, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { builtGatewayMain } from '../support/built-gateway.js';

/** The built binary, run the way an operator runs it. */
function run(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [builtGatewayMain(), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('command line (core.md vectors 1, 2, 8 and the sub-commands)', () => {
  it('--log-level=verbose exits non-zero with a readable error and no stack trace', () => {
    const r = run(['--log-level=verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid log level: verbose');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('logging.level: verbose in the file gives the file-flavoured message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    writeFileSync(join(dir, 'c.yaml'), 'logging:\n  level: verbose\n');
    const r = run(['--config', join(dir, 'c.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('failed setup logging verbose level: invalid log level: verbose');
  });

  it('an unknown flag is refused with a suggestion', () => {
    const r = run(['--clickhouse-hots', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown flag --clickhouse-hots; did you mean --clickhouse-host?');
  });

  it('version and --help', () => {
    expect(run(['version']).stdout).toMatch(/^clickhouse-mcp-gateway version \S+/);
    const help = run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--clickhouse-host [CLICKHOUSE_HOST]');
  });

  it('test-connection lists the tables of the database', async () => {
    await chQuery('CREATE DATABASE IF NOT EXISTS cli_e2e');
    await chQuery('CREATE TABLE IF NOT EXISTS cli_e2e.events (id UInt64) ENGINE = Memory');
    try {
      const r = run(['test-connection', '--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(CH_TEST_PORT), '--clickhouse-database', 'cli_e2e']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("\nTables in database 'cli_e2e':\n  - events (Memory)\n");
    } finally {
      await chQuery('DROP DATABASE IF EXISTS cli_e2e');
    }
  });

  it('unreachable ClickHouse stops the start with "ClickHouse connection test failed" (vector 8)', () => {
    const r = run(['--transport', 'http', '--address', '127.0.0.1', '--port', '1', '--clickhouse-host', '127.0.0.1', '--clickhouse-port', '9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ClickHouse connection test failed: cannot reach ClickHouse at 127.0.0.1:9');
  });

  it('a wrong password stops test-connection with a clear error that does not echo it', () => {
    const r = run(['test-connection', '--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(CH_TEST_PORT), '--clickhouse-username', 'tester'], {
      CLICKHOUSE_PASSWORD: 'not-the-password-x9',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ClickHouse connection test failed: .*(password|user)/i);
    expect(r.stderr + r.stdout).not.toContain('not-the-password-x9');
  });
});

describe('check-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'check-config-'));
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('accepts a valid file (exit 0) and prints its warnings, without contacting ClickHouse', () => {
    const path = file('ok.yaml', 'clickhouse:\n  host: ch.invalid\n  max_execution_time: 30\nserver:\n  transprot: http\n');
    const r = run(['check-config', '--config', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('warning: ');
    expect(r.stdout).toContain(`warning: unknown config key "server.transprot" is ignored; did you mean "server.transport"?`);
    expect(r.stdout).toContain(`configuration is valid (${path}, env and flags)`);
  });

  it('refuses what start-up refuses, with the same lines and exit code', () => {
    const path = file('bad.yaml', 'clickhouse:\n  port: 99999\nlogging:\n  level: verbose\nserver:\n  jwe:\n    enabled: true\n');
    const check = run(['check-config', '--config', path]);
    const boot = run(['--config', path]);
    expect(check.code).toBe(2);
    expect(boot.code).toBe(2);
    const problems = (text: string) => text.split('\n').filter((l) => l.startsWith('  - '));
    expect(problems(check.stderr).length).toBeGreaterThanOrEqual(2);
    expect(problems(check.stderr)).toEqual(problems(boot.stderr));
    expect(check.stderr).toContain('clickhouse.port');
    expect(check.stderr).not.toMatch(/\n\s+at /);
  });

  it('honours env and flags over the file, as start-up does', () => {
    const path = file('env.yaml', 'clickhouse:\n  port: 8123\n');
    expect(run(['check-config', '--config', path], { CLICKHOUSE_PORT: 'abc' }).stderr).toContain(
      'clickhouse.port: got "abc", expected an integer from 1 to 65535 (from env CLICKHOUSE_PORT)',
    );
    expect(run(['check-config', '--config', path, '--clickhouse-port', '9000'], { CLICKHOUSE_PORT: 'abc' }).code).toBe(0);
    expect(run(['check-config'], { CONFIG_FILE: path }).stdout).toContain(`configuration is valid (${path}, env and flags)`);
  });
});

describe('start-up with per-request credentials', () => {
  it('a JWE gateway starts without the static ClickHouse (nothing static to test), a plain one refuses', async () => {
    const { spawn } = await import('node:child_process');
    const dead = ['--transport', 'http', '--address', '127.0.0.1', '--clickhouse-host', '127.0.0.1', '--clickhouse-port', '1'];
    const plain = run([...dead, '--port', '18962']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('ClickHouse connection test failed');

    const child = spawn(process.execPath, [builtGatewayMain(), ...dead, '--port', '18961', '--allow-jwe-auth'], {
      env: { PATH: process.env.PATH ?? '', MCP_JWE_SECRET_KEY: 'cli-e2e-jwe-secret' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await fetch('http://127.0.0.1:18961/readyz').then((r) => r.status, () => 0);
      }
      expect(status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 30_000);
});
