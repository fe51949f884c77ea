import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { ClickHouseQueryError } from '../../src/clickhouse/clickhouse-error.js';
import { makeService, testConfig } from './ch-test-helpers.js';

/**
 * What goes over the wire, checked against a fake ClickHouse HTTP endpoint that records requests:
 * settings in the URL, credentials, headers, roles, connect_host, and the retry without settings.
 */

interface Seen {
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let reply: (req: Seen) => { status: number; body: string } = () => ({ status: 200, body: '' });
let server: Server;
let port: number;
let service: ClickHouseService;

const ONE_ROW =
  '{\n\t"meta":\n\t[\n\t\t{\n\t\t\t"name": "x",\n\t\t\t"type": "UInt8"\n\t\t}\n\t],\n\n\t"data":\n\t[\n\t\t[1]\n\t],\n\n\t"rows": 1,\n\n\t"statistics":\n\t{\n\t\t"elapsed": 0.0001,\n\t\t"rows_read": 1,\n\t\t"bytes_read": 1\n\t}\n}\n';

beforeAll(async () => {
  server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const entry = { url: new URL(req.url ?? '/', 'http://fake'), headers: req.headers, body };
    seen.push(entry);
    const { status, body: out } = reply(entry);
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  service = makeService();
});

afterAll(async () => {
  await service.close();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen.length = 0;
  reply = () => ({ status: 200, body: ONE_ROW });
});

const conn = (ch: Parameters<typeof testConfig>[0] = {}, overrides = {}) => service.connectionFromConfig(testConfig({ port, ...ch }).clickhouse, overrides);

describe('requests sent to ClickHouse', () => {
  it('a capped SELECT carries the caps, max_execution_time, settings, readonly and the query id as URL settings', async () => {
    const c = conn({ password: 'pw', database: 'analytics', max_execution_time: 7, extra_settings: { max_threads: '2' }, http_headers: { 'X-Custom': 'v' } });
    const r = await service.query(c, 'SELECT 1 AS x', { maxRows: 5, maxBytes: 100, settings: { join_use_nulls: '1' }, readOnly: true, queryId: 'qid-1' });
    expect(r.rows).toEqual([[1]]);
    expect(seen).toHaveLength(1);
    const { url, headers, body } = seen[0]!;
    expect(body).toBe('SELECT 1 AS x');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      default_format: 'JSONCompact',
      query_id: 'qid-1',
      database: 'analytics',
      max_execution_time: '7',
      max_threads: '2',
      join_use_nulls: '1',
      result_overflow_mode: 'break',
      max_result_rows: '5',
      max_result_bytes: '100',
      readonly: '2',
    });
    expect(url.searchParams.has('wait_end_of_query')).toBe(false); // rows are streamed
    expect(headers.authorization).toBe(`Basic ${Buffer.from('default:pw').toString('base64')}`);
    expect(headers['x-custom']).toBe('v');
    expect(headers['user-agent']).toContain('clickhouse-mcp-gateway');
    expect(url.searchParams.get('password')).toBeNull();
  });

  it('sends no caps for non-SELECT SQL and waits for the end of commands', async () => {
    await service.query(conn(), 'INSERT INTO t SELECT 1', { maxRows: 5 });
    expect(seen[0]!.url.searchParams.has('max_result_rows')).toBe(false);
    reply = () => ({ status: 200, body: '' });
    await service.command(conn(), 'CREATE TABLE t (x UInt8) ENGINE = Memory');
    const params = seen[1]!.url.searchParams;
    expect(params.get('wait_end_of_query')).toBe('1');
    expect(params.has('default_format')).toBe(false);
    expect(params.get('query_id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('uses the bearer token and roles of the request', async () => {
    await service.query(conn({}, { bearerToken: 'tok.en.value', roles: ['analyst', 'reader'] }), 'SELECT 1 AS x');
    expect(seen[0]!.headers.authorization).toBe('Bearer tok.en.value');
    expect(seen[0]!.url.searchParams.getAll('role')).toEqual(['analyst', 'reader']);
  });

  it('dials connect_host while the Host header keeps the logical host', async () => {
    const r = await service.query(conn({ host: 'clickhouse.invalid', connect_host: '127.0.0.1' }), 'SELECT 1 AS x');
    expect(r.rows).toEqual([[1]]);
    expect(seen[0]!.headers.host).toBe(`clickhouse.invalid:${port}`);
  });

  it('retries without its own settings when the profile forbids them, and remembers it per client', async () => {
    reply = (req) =>
      req.url.searchParams.has('max_execution_time')
        ? { status: 500, body: 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (max_execution_time) in readonly mode, e.what() = DB::Exception\n' }
        : { status: 200, body: ONE_ROW };
    const c = conn({ username: 'rouser', password: 'x' });
    expect((await service.query(c, 'SELECT 1 AS x', { maxRows: 3 })).rows).toEqual([[1]]);
    expect(seen).toHaveLength(3);
    // The probe: SELECT 1 with only the refused setting, same credentials.
    expect(seen[1]!.body).toBe('SELECT 1');
    expect(seen[1]!.url.searchParams.get('max_execution_time')).toBe(String(c.maxExecutionTime));
    expect(seen[1]!.url.searchParams.has('max_result_rows')).toBe(false);
    const retry = seen[2]!.url.searchParams;
    for (const name of ['max_execution_time', 'max_result_rows', 'result_overflow_mode', 'readonly']) expect(retry.has(name)).toBe(false);
    await service.query(c, 'SELECT 1 AS x', { maxRows: 3 });
    expect(seen).toHaveLength(4); // no failed first attempt any more
  });

  it('keeps its settings when the probe shows the server accepts them (an error text alone proves nothing)', async () => {
    reply = (req) =>
      req.body.includes('FORGED')
        ? { status: 500, body: 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (readonly) in readonly mode, e.what() = DB::Exception\n' }
        : { status: 200, body: req.body === 'SELECT 1' ? '1\n' : ONE_ROW };
    const c = conn({ username: 'prober' });
    const err = await service.query(c, "SELECT 'FORGED' AS x", { readOnly: true }).catch((e: unknown) => e);
    expect((err as ClickHouseQueryError).kind).toBe('readonly');
    expect(seen.map((r) => r.body)).toEqual(["SELECT 'FORGED' AS x", 'SELECT 1']);
    await service.query(c, 'SELECT 1 AS x', { readOnly: true });
    expect(seen[2]!.url.searchParams.get('readonly')).toBe('2');
    expect(seen[2]!.url.searchParams.has('max_execution_time')).toBe(true);
  });

  it('does not drop settings the caller asked for: their refusal is reported', async () => {
    reply = (req) =>
      req.url.searchParams.has('join_use_nulls')
        ? { status: 500, body: 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (join_use_nulls) in readonly mode, e.what() = DB::Exception\n' }
        : { status: 200, body: ONE_ROW };
    const err = await service.query(conn({ username: 'rouser2' }), 'SELECT 1 AS x', { settings: { join_use_nulls: '1' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    expect((err as ClickHouseQueryError).userMessage).toBe('ClickHouse refused to change the setting join_use_nulls: the user is read-only');
  });

  it('never stops sending readonly because the SQL itself tried to change it', async () => {
    reply = (req) =>
      /readonly = 0/.test(req.body) && req.url.searchParams.has('readonly')
        ? { status: 500, body: "Code: 164, e.displayText() = DB::Exception: Cannot modify 'readonly' setting in readonly mode, e.what() = DB::Exception\n" }
        : { status: 200, body: ONE_ROW };
    const c = conn({ username: 'escaper' });
    const err = await service.query(c, 'SELECT 1 SETTINGS readonly = 0', { readOnly: true }).catch((e: unknown) => e);
    expect((err as ClickHouseQueryError).kind).toBe('readonly');
    expect(seen).toHaveLength(1);
    await service.query(c, 'SELECT 1 AS x', { readOnly: true });
    expect(seen[1]!.url.searchParams.get('readonly')).toBe('2');
  });

  it('asks the server time zone once per client for DateTime columns without a zone', async () => {
    const body = ONE_ROW.replace('"name": "x"', '"name": "t"').replace('"type": "UInt8"', '"type": "DateTime"').replace('[1]', '["2024-01-02 03:04:05"]');
    reply = (req) => (req.body === 'SELECT timezone()' ? { status: 200, body: 'Asia/Tokyo\n' } : { status: 200, body });
    const c = conn({ username: 'tz-user' });
    expect((await service.query(c, 'SELECT now() AS t')).rows).toEqual([['2024-01-02T03:04:05+09:00']]);
    expect((await service.query(c, 'SELECT now() AS t')).rows).toEqual([['2024-01-02T03:04:05+09:00']]);
    expect(seen.filter((s) => s.body === 'SELECT timezone()')).toHaveLength(1);
  });

  it('reports a TLS file that cannot be read', async () => {
    const c = conn({ tls: { enabled: true, ca_cert: '/nonexistent/ca.pem', client_cert: '', client_key: '', insecure_skip_verify: false } });
    const err = (await service.query(c, 'SELECT 1').catch((e: unknown) => e)) as ClickHouseQueryError;
    expect(err).toBeInstanceOf(ClickHouseQueryError);
    expect(err.userMessage).toMatch(/^failed to build TLS config: failed to read CA certificate: ENOENT/);
  });
});
