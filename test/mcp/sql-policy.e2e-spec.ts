import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseQueryError } from '../../src/clickhouse/clickhouse-error.js';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { chQuery } from '../setup/clickhouse-server.js';
import { connectClient, startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { errorText, okJson, rawHttp, tempConfig } from './mcp-e2e-helpers.js';

/**
 * The SQL policy end to end on the real ClickHouse 18.16: table functions that leave the server, files and
 * protected settings are refused before ClickHouse sees the query, on every path. A TCP listener on
 * 127.0.0.1 is the canary: it records every connection, so "refused" is checked by what did NOT happen.
 */
const DB = 'sqlpol_e2e';

/** A loopback TCP listener that counts connections (and closes them at once). */
class Canary {
  connections = 0;
  port = 0;
  private server?: Server;
  async start(): Promise<void> {
    this.server = createServer((socket) => {
      this.connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const canary = new Canary();
const call = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });

beforeAll(async () => {
  await canary.start();
  await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
  await chQuery(`CREATE DATABASE ${DB}`);
  await chQuery(`CREATE TABLE ${DB}.t (id UInt64, name String) ENGINE = Memory`);
  await chQuery(`INSERT INTO ${DB}.t VALUES (1, 'a'), (2, 'b')`);
  await chQuery(`CREATE VIEW ${DB}.v AS SELECT id, name FROM ${DB}.t ORDER BY id`);
});

afterAll(async () => {
  await canary.close();
  await chQuery(`DROP DATABASE IF EXISTS ${DB}`);
});

describe('table-function policy (default allowlist)', () => {
  let gw: TestGateway;
  let client: Client;
  let cfg: ReturnType<typeof tempConfig>;
  beforeAll(async () => {
    cfg = tempConfig(`
server:
  tools:
    - { type: read, name: execute_query }
    - { type: write, name: write_query }
    - { type: read, view_regexp: '${DB}\\.v' }
    - { type: write, table_regexp: '${DB}\\.t', mode: insert }
`);
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--config', cfg.path, '--openapi', 'http']);
    client = await connectClient(gw.url);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    cfg?.cleanup();
  });

  it('refuses every outbound table function with a clear tool error, and nothing connects', async () => {
    const target = `http://127.0.0.1:${canary.port}/leak`;
    const hostPort = `127.0.0.1:${canary.port}`;
    const refused: Array<[string, string, string]> = [
      ['execute_query', `SELECT * FROM url('${target}', CSV, 'a String')`, 'url'],
      ['execute_query', `DESCRIBE TABLE url('${target}', CSV)`, 'url'],
      ['execute_query', `SELECT count() FROM (SELECT * FROM url('${target}', CSV, 'a String'))`, 'url'],
      ['execute_query', `WITH x AS (SELECT * FROM url('${target}', CSV, 'a String')) SELECT * FROM x`, 'url'],
      ['execute_query', `SELECT 'a' UNION ALL SELECT * FROM url('${target}', CSV, 'a String')`, 'url'],
      ['execute_query', `SELECT * FROM remote('${hostPort}', system.one)`, 'remote'],
      ['execute_query', `SELECT * FROM mysql('${hostPort}', 'db', 't', 'u', 'p')`, 'mysql'],
      ['execute_query', `SELECT * FROM file('/etc/passwd', 'LineAsString')`, 'file'],
      ['write_query', `INSERT INTO ${DB}.t SELECT 9, c1 FROM url('${target}', CSV, 'c1 String')`, 'url'],
      ['write_query', `INSERT INTO FUNCTION url('${target}', CSV, 'a String') SELECT 'x'`, 'url'],
    ];
    for (const [tool, query, name] of refused) {
      const text = errorText(await call(client, tool, { query }));
      expect(text, query).toMatch(new RegExp(`^Query rejected: table function ${name}\\(\\) is not allowed .*server\\.allowed_table_functions$`));
    }
    // 18.16 needs a moment to connect; give a wrongly passed query the chance to show up.
    await new Promise((r) => setTimeout(r, 300));
    expect(canary.connections).toBe(0);
    expect((await chQuery(`SELECT count() FROM ${DB}.t FORMAT TabSeparated`)).trim()).toBe('2');
  });

  it('still runs numbers() and other local table functions', async () => {
    expect(okJson(await call(client, 'execute_query', { query: 'SELECT count() AS n FROM numbers(10)' })).rows).toEqual([[10]]);
    expect(okJson(await call(client, 'execute_query', { query: 'SELECT count() AS n FROM numbers(3) AS a CROSS JOIN numbers(2) AS b' })).rows).toEqual([[6]]);
  });

  // 18.16 has no parameterized views; the binding of view parameters is covered in dynamic-tools.spec.ts.
  it('view and insert tools run through the same checks; a hostile insert value stays a string', async () => {
    const hostile = `x') UNION ALL SELECT * FROM url('http://127.0.0.1:${canary.port}/v', CSV, 'a String') --`;
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain(`${DB}_v`);
    const result = await call(client, `${DB}_v`, {});
    expect(okJson(result).rows).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    // The insert tool quotes the value as a string literal: it is stored as text, nothing is called.
    const insert = await call(client, `${DB}_t`, { id: 3, name: hostile });
    expect(insert.isError).toBeFalsy();
    expect((await chQuery(`SELECT name FROM ${DB}.t WHERE id = 3 FORMAT TabSeparated`)).trim()).toBe(hostile.replace(/'/g, "\\'"));
    await new Promise((r) => setTimeout(r, 200));
    expect(canary.connections).toBe(0);
  });

  it('refuses them on OpenAPI too, with a 400', async () => {
    const sql = `SELECT * FROM url('http://127.0.0.1:${canary.port}/o', CSV, 'a String')`;
    const res = await rawHttp(gw.url, { method: 'GET', path: `/openapi/execute_query?query=${encodeURIComponent(sql)}` });
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/^Query rejected: table function url\(\) is not allowed/);
    await new Promise((r) => setTimeout(r, 200));
    expect(canary.connections).toBe(0);
  });

  it('the data layer applies the same policy as a last wall, whatever path the SQL came by', async () => {
    const clickhouse = gw.app.get(ClickHouseService);
    const conn = clickhouse.currentConnection();
    for (const sql of [
      `SELECT * FROM url('http://127.0.0.1:${canary.port}/dl', CSV, 'a String')`,
      `SELECT name FROM system.tables WHERE name IN (SELECT * FROM remote('127.0.0.1:${canary.port}', system.one))`,
      'SELECT 1 SETTINGS readonly = 0',
    ]) {
      const err = await clickhouse.query(conn, sql).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, sql).toBeInstanceOf(ClickHouseQueryError);
      expect((err as ClickHouseQueryError).kind).toBe('rejected');
      expect((err as ClickHouseQueryError).userMessage).toMatch(/^Query rejected: /);
    }
    await expect(clickhouse.command(conn, `INSERT INTO FUNCTION url('http://127.0.0.1:${canary.port}/c', CSV, 'a String') SELECT 'x'`)).rejects.toMatchObject({
      kind: 'rejected',
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(canary.connections).toBe(0);
  });

  it('refuses INTO OUTFILE and protected SQL settings', async () => {
    expect(errorText(await call(client, 'execute_query', { query: `SELECT * FROM ${DB}.t INTO OUTFILE '/tmp/sqlpol_e2e.tsv'` }))).toMatch(
      /^Query rejected: INTO OUTFILE is not allowed/,
    );
    expect(errorText(await call(client, 'execute_query', { query: 'SELECT 1 SETTINGS max_execution_time = 0' }))).toMatch(
      /^Query rejected: setting "max_execution_time" is blocked/,
    );
  });
});

describe('server.allowed_table_functions', () => {
  let gw: TestGateway;
  let client: Client;
  beforeAll(async () => {
    gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--allowed-table-functions', 'url']);
    client = await connectClient(gw.url);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('opens url() — the canary sees the connection — and only url()', async () => {
    const before = canary.connections;
    const result = await call(client, 'execute_query', { query: `SELECT * FROM url('http://127.0.0.1:${canary.port}/allowed', CSV, 'a String')` });
    // The listener closes at once, so ClickHouse fails the query; what matters is that it connected.
    expect(result.isError).toBe(true);
    expect(errorText(result)).not.toMatch(/^Query rejected/);
    expect(canary.connections).toBeGreaterThan(before);
    const after = canary.connections;
    expect(errorText(await call(client, 'execute_query', { query: `SELECT * FROM remote('127.0.0.1:${canary.port}', system.one)` }))).toMatch(
      /^Query rejected: table function remote\(\) is not allowed/,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(canary.connections).toBe(after);
  });
});

describe('limits a caller cannot lift (operator max_execution_time: 2)', () => {
  const longQuery = (tag: string) => `SELECT sleepEachRow(0.5), '${tag}' FROM system.numbers LIMIT 40 SETTINGS max_block_size = 1, max_execution_time = 0`;

  it('refuses SETTINGS max_execution_time = 0 by default', async () => {
    const gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--clickhouse-max-execution-time', '2']);
    const client = await connectClient(gw.url);
    try {
      const started = Date.now();
      const text = errorText(await call(client, 'execute_query', { query: longQuery('sqlpol-default') }));
      expect(text).toMatch(/^Query rejected: setting "max_execution_time" is blocked/);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await client.close();
      await gw.close();
    }
  });

  it('with the protection lifted, the query still ends with a timeout error within ~4 s', async () => {
    const cfg = tempConfig('server:\n  protected_settings: []\n');
    const gw = await startGateway([...TEST_CLICKHOUSE_FLAGS, '--clickhouse-max-execution-time', '2', '--config', cfg.path]);
    const client = await connectClient(gw.url);
    try {
      const started = Date.now();
      const result = await call(client, 'execute_query', { query: longQuery('sqlpol-lifted') });
      const elapsed = Date.now() - started;
      expect(result.isError).toBe(true);
      expect(errorText(result)).toMatch(/tim(e|ed) ?out|deadline|exceeded/i);
      expect(elapsed).toBeLessThan(4_700);
    } finally {
      await client.close();
      await gw.close();
      cfg.cleanup();
    }
  }, 20_000);
});

describe('embedded engine (chDB)', () => {
  let gw: TestGateway;
  let client: Client;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sqlpol-emb-'));
    gw = await startGateway(['--clickhouse-protocol', 'embedded']);
    client = await connectClient(gw.url);
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses file(), url() and INTO OUTFILE, and writes no file', async () => {
    const before = canary.connections;
    expect(errorText(await call(client, 'execute_query', { query: "SELECT * FROM file('/etc/passwd', 'LineAsString')" }))).toMatch(/^Query rejected: file\(\) is not allowed on the embedded engine/);
    expect(errorText(await call(client, 'execute_query', { query: "SELECT file('/etc/passwd')" }))).toMatch(/^Query rejected: file\(\)/);
    expect(errorText(await call(client, 'execute_query', { query: `SELECT * FROM url('http://127.0.0.1:${canary.port}/e', CSV, 'a String')` }))).toMatch(
      /^Query rejected: url\(\) is not allowed on the embedded engine/,
    );
    const out = join(dir, 'out.tsv');
    expect(errorText(await call(client, 'execute_query', { query: `SELECT 1 INTO OUTFILE '${out}'` }))).toMatch(/^Query rejected: INTO OUTFILE is not allowed/);
    expect(existsSync(out)).toBe(false);
    expect(okJson(await call(client, 'execute_query', { query: 'SELECT count() AS n FROM numbers(5)' })).rows).toEqual([[5]]);
    await new Promise((r) => setTimeout(r, 200));
    expect(canary.connections).toBe(before);
  });
});
