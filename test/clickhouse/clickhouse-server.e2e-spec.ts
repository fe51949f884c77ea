import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { ExactNumber, type QueryEvent } from '../../src/clickhouse/clickhouse.types.js';
import { CH_TEST_URL, chQuery } from '../setup/clickhouse-server.js';
import { DEAD_PORT, connection, makeService, memoryLogger, testConfig, waitFor, failure } from './ch-test-helpers.js';

/** Tests of the data layer against the real ClickHouse 18.16 test server. Tables: chmod_srv_*. */

const TABLE = `default.chmod_srv_${process.pid}`;
const SLOW = 'SELECT sleepEachRow(0.5) FROM system.numbers LIMIT 20 SETTINGS max_block_size = 1';

async function running(queryId: string): Promise<boolean> {
  const n = await chQuery(`SELECT count() FROM system.processes WHERE query_id = '${queryId}'`);
  return Number(n.trim()) > 0;
}

let service: ClickHouseService;
const events: QueryEvent[] = [];

beforeAll(async () => {
  service = makeService();
  service.onQuery((e) => events.push(e));
  await chQuery(`DROP TABLE IF EXISTS ${TABLE}`);
});

afterAll(async () => {
  await chQuery(`DROP TABLE IF EXISTS ${TABLE}`);
  await service.close();
});

describe('ClickHouseService against ClickHouse 18.16', () => {
  it('runs a query and returns columns, types and rows', async () => {
    const conn = connection(service);
    const r = await service.query(conn, 'SELECT number AS n, toString(number) AS s, toUInt8(number) AS b FROM system.numbers LIMIT 3');
    expect(r.columns).toEqual(['n', 's', 'b']);
    expect(r.types).toEqual(['UInt64', 'String', 'UInt8']);
    expect(r.rows).toEqual([
      [new ExactNumber('0'), '0', 0],
      [new ExactNumber('1'), '1', 1],
      [new ExactNumber('2'), '2', 2],
    ]);
    expect(r.truncated).toBeUndefined();
    expect(r.queryId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('runs commands (CREATE, INSERT, ALTER, DROP) and the rows are there afterwards', async () => {
    const conn = connection(service);
    await service.command(conn, `CREATE TABLE ${TABLE} (id UInt32, name String, amount Decimal(18, 4)) ENGINE = MergeTree ORDER BY id`);
    const { queryId } = await service.command(conn, `INSERT INTO ${TABLE} VALUES (1, 'a', 1.5), (2, 'b', 2.25)`, { queryId: 'chmod-insert-1' });
    expect(queryId).toBe('chmod-insert-1');
    await service.command(conn, `ALTER TABLE ${TABLE} ADD COLUMN note Nullable(String)`);
    const r = await service.query(conn, `SELECT id, name, amount, note FROM ${TABLE} ORDER BY id`);
    expect(r.rows).toEqual([
      [1, 'a', '1.5', null],
      [2, 'b', '2.25', null],
    ]);
  });

  it('keeps UInt64/Int64 and Decimal(38,10) exact', async () => {
    const r = await service.query(
      connection(service),
      "SELECT toUInt64('18446744073709551615') AS u, toInt64('-9223372036854775808') AS i, toDecimal128('12345678901234567890.1234567890', 10) AS d, toDecimal32('1.50', 2) AS d2, toDecimal64('-0.00', 2) AS z",
    );
    const [u, i, d, d2, z] = r.rows[0]!;
    expect(u).toBeInstanceOf(ExactNumber);
    expect((u as ExactNumber).text).toBe('18446744073709551615');
    expect((i as ExactNumber).text).toBe('-9223372036854775808');
    // Go (shopspring/decimal) emits decimals as strings without trailing zeros.
    expect(d).toBe('12345678901234567890.123456789');
    expect(d2).toBe('1.5');
    expect(z).toBe('0');
  });

  it('converts Date/DateTime to RFC3339 with the column time zone', async () => {
    const r = await service.query(
      connection(service),
      "SELECT toDateTime('2024-01-02 03:04:05') AS t, toDateTime('2024-01-02 03:04:05', 'Europe/Berlin') AS winter, toDateTime('2024-07-02 03:04:05', 'Europe/Berlin') AS summer, toDateTime('2024-07-02 03:04:05', 'America/New_York') AS ny, toDate('2024-01-02') AS d, toDateTime(0) AS zero, [toDateTime('2024-01-02 03:04:05')] AS arr",
    );
    expect(r.types).toEqual(['DateTime', "DateTime('Europe/Berlin')", "DateTime('Europe/Berlin')", "DateTime('America/New_York')", 'Date', 'DateTime', 'Array(DateTime)']);
    expect(r.rows[0]).toEqual([
      '2024-01-02T03:04:05Z',
      '2024-01-02T03:04:05+01:00',
      '2024-07-02T03:04:05+02:00',
      '2024-07-02T03:04:05-04:00',
      '2024-01-02T00:00:00Z',
      '1970-01-01T00:00:00Z',
      ['2024-01-02T03:04:05Z'],
    ]);
  });

  it('handles Nullable, Array, nested arrays and tuples', async () => {
    const r = await service.query(
      connection(service),
      "SELECT CAST(NULL AS Nullable(String)) AS n, toNullable('x') AS nx, [1, 2, 3] AS a, [[toUInt64(1)], []] AS aa, ['a\\nb', NULL] AS an, (1, 'x') AS tup, [toNullable(toDecimal32('2.50', 2))] AS ad",
    );
    expect(r.types).toEqual(['Nullable(String)', 'Nullable(String)', 'Array(UInt8)', 'Array(Array(UInt64))', 'Array(Nullable(String))', 'Tuple(UInt8, String)', 'Array(Nullable(Decimal(9, 2)))']);
    expect(r.rows[0]).toEqual([null, 'x', [1, 2, 3], [[new ExactNumber('1')], []], ['a\nb', null], [1, 'x'], ['2.5']]);
  });

  it('refuses writes for a read-only user (code 164) with a clear message', async () => {
    await service.command(connection(service), `CREATE TABLE IF NOT EXISTS ${TABLE}_ro (id UInt32) ENGINE = Memory`);
    const ro = connection(service, { username: 'ro', password: 'ro' });
    const err = await failure(service.command(ro, `INSERT INTO ${TABLE}_ro VALUES (1)`));
    expect(err.kind).toBe('readonly');
    expect(err.code).toBe(164);
    expect(err.userMessage).toBe('ClickHouse refused the write: the connection is read-only');
    expect(err.serverMessage).toContain('Cannot insert into table in readonly mode');
    await chQuery(`DROP TABLE IF EXISTS ${TABLE}_ro`);
  });

  it('sends readonly for a read-only connection and for readOnly queries (writes refused, SETTINGS clauses still work)', async () => {
    await service.command(connection(service), `CREATE TABLE IF NOT EXISTS ${TABLE}_ro2 (id UInt32) ENGINE = Memory`);
    const readOnlyConn = connection(service, { read_only: true });
    const e1 = await failure(service.command(readOnlyConn, `INSERT INTO ${TABLE}_ro2 VALUES (1)`));
    expect([e1.kind, e1.code]).toEqual(['readonly', 164]);
    const e2 = await failure(service.command(connection(service), `INSERT INTO ${TABLE}_ro2 VALUES (1)`, { readOnly: true }));
    expect([e2.kind, e2.code]).toEqual(['readonly', 164]);
    expect((await service.query(readOnlyConn, 'SELECT 1 AS one SETTINGS max_threads = 1')).rows).toEqual([[1]]);
    const escape = await failure(service.query(readOnlyConn, 'SELECT 1 SETTINGS readonly = 0'));
    expect([escape.kind, escape.code]).toEqual(['readonly', 164]);
    // ...and that refusal did not make the gateway stop sending readonly on this connection
    const after = await failure(service.command(readOnlyConn, `INSERT INTO ${TABLE}_ro2 VALUES (2)`));
    expect([after.kind, after.code]).toEqual(['readonly', 164]);
    await chQuery(`DROP TABLE IF EXISTS ${TABLE}_ro2`);
  });

  it('queries as a user whose profile forbids settings: retries without the caps and still caps client-side', async () => {
    const ro = connection(service, { username: 'ro', password: 'ro' });
    const r = await service.query(ro, 'SELECT number FROM system.numbers LIMIT 50', { maxRows: 10, maxBytes: 100_000 });
    expect(r.rows).toHaveLength(10);
    expect(r.truncated).toMatchObject({ reason: 'max_result_rows', limit: 10, returned_rows: 10 });
    // Remembered: the next query goes out without settings at once (and also works with readOnly).
    const again = await service.query(ro, 'SELECT 1 AS x', { maxRows: 5, readOnly: true });
    expect(again.rows).toEqual([[1]]);
  });

  it('reports a wrong password (193) and an unknown user (192) without leaking the password', async () => {
    const { logger, lines } = memoryLogger('debug');
    const svc = makeService(testConfig(), logger);
    try {
      const secret = 'Sup3r-Secret-pw';
      const wrong = await failure(svc.query(connection(svc, { username: 'tester', password: secret }), 'SELECT 1'));
      expect(wrong.kind).toBe('auth_failed');
      expect(wrong.code).toBe(193);
      expect(wrong.httpStatus).toBe(401);
      expect(wrong.userMessage).toBe('ClickHouse rejected the user name or password');
      expect(wrong.serverMessage).toContain('Wrong password for user tester');
      const unknown = await failure(svc.query(connection(svc, { username: 'nobody', password: secret }), 'SELECT 1'));
      expect([unknown.kind, unknown.code]).toEqual(['auth_failed', 192]);
      const pingErr = await failure(svc.ping(connection(svc, { username: 'tester', password: secret })));
      expect(pingErr.kind).toBe('auth_failed');
      for (const e of [wrong, unknown, pingErr]) expect(`${e.message} ${e.serverMessage} ${e.stack}`).not.toContain(secret);
      expect(lines.join('\n')).not.toContain(secret);
      expect(lines.length).toBeGreaterThan(0);
    } finally {
      await svc.close();
    }
  });

  it('reports unknown table (60), unknown database (81) and syntax errors (62)', async () => {
    const conn = connection(service);
    const table = await failure(service.query(conn, 'SELECT * FROM default.chmod_no_such_table'));
    expect([table.kind, table.code, table.type]).toEqual(['unknown_table', 60, 'UNKNOWN_TABLE']);
    expect(table.userMessage).toBe("unknown table: Table default.chmod_no_such_table doesn't exist.");
    expect(table.serverMessage).toBe("Code: 60, e.displayText() = DB::Exception: Table default.chmod_no_such_table doesn't exist., e.what() = DB::Exception");

    const db = await failure(service.query(connection(service, { database: 'chmod_nope_db' }), 'SELECT 1'));
    expect([db.kind, db.code]).toEqual(['unknown_database', 81]);

    const syntax = await failure(service.query(conn, 'SELEC 1'));
    expect([syntax.kind, syntax.code]).toEqual(['syntax', 62]);
    expect(syntax.userMessage).toMatch(/^SQL syntax error: failed at position 1: SELEC 1\. Expected one of:/);
    expect(syntax.httpStatus).toBe(400);
  });

  it('enforces max_execution_time (code 159) as a timeout', async () => {
    const conn = connection(service, { max_execution_time: 1 });
    const started = Date.now();
    const err = await failure(service.query(conn, SLOW));
    expect(err.kind).toBe('timeout');
    expect(err.code).toBe(159);
    expect(err.userMessage).toBe('query exceeded max_execution_time of 1 s');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('truncates at maxRows only when ClickHouse has more rows', async () => {
    const conn = connection(service);
    const capped = await service.query(conn, 'SELECT number FROM system.numbers LIMIT 1000', { maxRows: 10 });
    expect(capped.rows).toHaveLength(10);
    expect(capped.truncated).toEqual({ reason: 'max_result_rows', limit: 10, returned_rows: 10, returned_bytes_approx: capped.approxBytes });
    const exact = await service.query(conn, 'SELECT number FROM system.numbers LIMIT 10', { maxRows: 10 });
    expect(exact.rows).toHaveLength(10);
    expect(exact.truncated).toBeUndefined();
  });

  it('truncates at maxBytes after the crossing row, counting like altinity-mcp', async () => {
    // each row ["<digit>"] counts 2 + (1 + 2) + 1 = 6
    const r = await service.query(connection(service), 'SELECT toString(number) FROM system.numbers LIMIT 100', { maxBytes: 50 });
    expect(r.rows).toHaveLength(9);
    expect(r.truncated).toEqual({ reason: 'max_result_bytes', limit: 50, returned_rows: 9, returned_bytes_approx: 54 });
  });

  it('caps a 1M-row result without reading it all, also when server-side caps are refused', async () => {
    const sql = 'SELECT number, toString(number) FROM system.numbers LIMIT 1000000';
    for (const user of [{}, { username: 'ro', password: 'ro' }]) {
      const conn = connection(service, user);
      const queryId = `chmod-1m-${randomUUID()}`;
      const heapBefore = process.memoryUsage().heapUsed;
      const started = Date.now();
      const r = await service.query(conn, sql, { maxRows: 500, maxBytes: 50_000, queryId });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(r.rows).toHaveLength(500);
      expect(r.truncated?.reason).toBe('max_result_rows');
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(60 * 1024 * 1024);
      // The server does not keep streaming the rest: the query ends (break mode, or KILL QUERY).
      expect(await waitFor(async () => !(await running(queryId)), 3000)).toBe(true);
    }
  });

  it('cancels: an aborted query is gone from system.processes within 2 s', async () => {
    const queryId = `chmod-cancel-${randomUUID()}`;
    const controller = new AbortController();
    const pending = service.query(connection(service), SLOW, { queryId, signal: controller.signal });
    expect(await waitFor(() => running(queryId), 2000, 20)).toBe(true);
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const err = await failure(pending);
    expect(err.kind).toBe('cancelled');
    expect(err.queryId).toBe(queryId);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await waitFor(async () => !(await running(queryId)), 2000)).toBe(true);
  });

  it('cancelAll() aborts everything in flight and kills it on the server', async () => {
    const svc = makeService();
    try {
      const ids = [`chmod-all-${randomUUID()}`, `chmod-all-${randomUUID()}`];
      const pending = ids.map((queryId) => failure(svc.query(connection(svc), SLOW, { queryId })));
      expect(await waitFor(async () => (await Promise.all(ids.map(running))).every(Boolean), 2000, 20)).toBe(true);
      expect(svc.inFlightCount).toBe(2);
      expect(await svc.cancelAll()).toBe(2);
      for (const err of await Promise.all(pending)) {
        expect(err.kind).toBe('cancelled');
        expect(err.userMessage).toBe('the query was cancelled because the gateway is shutting down');
      }
      expect(await waitFor(async () => !(await Promise.all(ids.map(running))).some(Boolean), 2000)).toBe(true);
    } finally {
      await svc.close();
    }
  });

  it('fails fast with a clear error when nothing listens', async () => {
    const conn = connection(service, { port: DEAD_PORT });
    const started = Date.now();
    const err = await failure(service.query(conn, 'SELECT 1'));
    expect(err.kind).toBe('unreachable');
    expect(err.userMessage).toBe(`cannot reach ClickHouse at 127.0.0.1:${DEAD_PORT}: connection refused`);
    expect(Date.now() - started).toBeLessThan(1000);
    const pingErr = await failure(service.ping(conn));
    expect(pingErr.kind).toBe('unreachable');
  });

  it('does not let a hung server hang the caller (client-side deadline)', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => void sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const started = Date.now();
      const err = await failure(service.query(connection(service, { port, max_execution_time: 1 }), 'SELECT 1'));
      expect(err.kind).toBe('timeout');
      expect(err.userMessage).toBe('query exceeded max_execution_time of 1 s');
      expect(Date.now() - started).toBeLessThan(5000);
      const pingErr = await failure(service.ping(connection(service, { port }), { timeoutMs: 300 }));
      expect(pingErr.kind).toBe('timeout');
      expect(pingErr.userMessage).toBe(`ClickHouse at 127.0.0.1:${port} did not answer within 300 ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it('turns an exception appended to a 200 body mid-stream into an error', async () => {
    const err = await failure(service.query(connection(service), 'SELECT throwIf(number = 300000) FROM system.numbers LIMIT 1000000'));
    expect(err.code).toBe(395);
    expect(err.serverMessage).toContain("Value passed to 'throwIf' function is non zero");
  });

  it('pings with credentials checked', async () => {
    await expect(service.ping(connection(service))).resolves.toBeUndefined();
    await expect(service.ping(connection(service, { username: 'tester', password: 'secret' }))).resolves.toBeUndefined();
  });

  it('pools one client per connection tuple and evicts idle ones', async () => {
    const svc = makeService();
    try {
      await svc.query(connection(svc), 'SELECT 1');
      await svc.query(connection(svc), 'SELECT 2');
      await svc.query(connection(svc, { username: 'tester', password: 'secret' }), 'SELECT 3');
      expect(await svc.evictIdle(60_000)).toBe(0);
      expect(await svc.evictIdle(0)).toBe(2);
      expect((await svc.query(connection(svc), 'SELECT 4 AS x')).rows).toEqual([[4]]);
    } finally {
      await svc.close();
    }
  });

  it('reports every call to onQuery listeners', () => {
    expect(events.some((e) => e.operation === 'query' && e.outcome === 'ok' && e.protocol === 'http' && e.durationMs >= 0)).toBe(true);
    expect(events.some((e) => e.operation === 'command' && e.outcome === 'ok')).toBe(true);
    expect(events.some((e) => e.outcome === 'error' && e.errorKind === 'unknown_table')).toBe(true);
    expect(events.some((e) => e.operation === 'query' && e.truncated === 'max_result_rows')).toBe(true);
  });

  it('costs little over the raw client for 1000 rows', async () => {
    const sql = 'SELECT number, toString(number) AS s, number * 1.5 AS f, toDate(number) AS d FROM system.numbers LIMIT 1000';
    const raw = createClient({ url: CH_TEST_URL });
    const conn = connection(service);
    try {
      const time = async (fn: () => Promise<unknown>): Promise<number> => {
        let best = Infinity;
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          await fn();
          best = Math.min(best, performance.now() - t);
        }
        return best;
      };
      const rawMs = await time(async () => (await raw.query({ query: sql, format: 'JSONCompact' })).json());
      const ours = await time(() => service.query(conn, sql, { maxRows: 5000 }));
      expect(ours).toBeLessThan(rawMs * 3 + 30);
    } finally {
      await raw.close();
    }
  });
});
