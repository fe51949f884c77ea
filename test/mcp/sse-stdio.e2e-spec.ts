import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { builtGatewayMain } from '../support/built-gateway.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { errorText, MCP_POST_HEADERS, okJson, rawHttp, runningQueries, startWithTransport, texts, waitFor } from './mcp-e2e-helpers.js';

/**
 * The two other transports: legacy SSE (`GET /sse` + `POST /sse?sessionId=…`) with the SDK's SSE client, and
 * stdio with the built gateway spawned as a child process, as desktop clients run it.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const buildGateway = builtGatewayMain;

const STDIO_ARGS = ['--transport', 'stdio', '--clickhouse-host', CH_TEST_HOST, '--clickhouse-port', String(CH_TEST_PORT)];

describe('SSE transport', () => {
  let gw: TestGateway;
  let client: Client;
  let transport: SSEClientTransport;

  beforeAll(async () => {
    gw = await startWithTransport('sse', [...TEST_CLICKHOUSE_FLAGS, '--tool-input-settings', 'max_block_size']);
    transport = new SSEClientTransport(new URL('/sse', gw.url));
    client = new Client({ name: 'sse-e2e', version: '1.0.0' });
    await client.connect(transport);
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
  });

  it('initializes, lists tools and runs execute_query', async () => {
    expect(client.getServerVersion()?.name).toBe('Altinity ClickHouse MCP Server');
    expect(client.getServerCapabilities()).toMatchObject({ tools: { listChanged: true }, resources: { listChanged: true } });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['execute_query', 'write_query']);
    const result = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1 AS x, toUInt64(18446744073709551615) AS big' } });
    expect(texts(result)[0]).toContain('18446744073709551615');
    expect(okJson(result)).toMatchObject({ columns: ['x', 'big'], count: 1 });
    expect(errorText(await client.callTool({ name: 'execute_query', arguments: { query: 'DROP TABLE x' } }))).toMatch(/^execute_query only accepts/);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['clickhouse://schema']);
  });

  it('serves several requests on one session concurrently', async () => {
    const results = await Promise.all([1, 2, 3, 4].map((n) => client.callTool({ name: 'execute_query', arguments: { query: `SELECT ${n} AS n` } })));
    expect(results.map((r) => okJson(r).rows[0][0])).toEqual([1, 2, 3, 4]);
  });

  it('a cancelled call ends its ClickHouse query', async () => {
    const tag = `mcpe2e_sse_${randomUUID().slice(0, 8)}`;
    const abort = new AbortController();
    const call = client
      .callTool(
        { name: 'execute_query', arguments: { query: `SELECT sleepEachRow(0.5), '${tag}' FROM system.numbers LIMIT 20`, settings: { max_block_size: '1' } } },
        undefined,
        { signal: abort.signal },
      )
      .catch((err: Error) => err);
    await waitFor(async () => (await runningQueries(tag)) === 1, 3_000, 'the query to start');
    abort.abort();
    expect(await call).toBeInstanceOf(Error);
    await waitFor(async () => (await runningQueries(tag)) === 0, 3_000, 'the query to end');
  });

  it('refuses POSTs without a session, to an unknown session, and paths other than /sse', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const noSession = await rawHttp(gw.url, { path: '/sse', headers: MCP_POST_HEADERS, body });
    expect(noSession.status).toBe(400);
    const unknown = await rawHttp(gw.url, { path: '/sse?sessionId=nope', headers: MCP_POST_HEADERS, body });
    expect(unknown.status).toBe(404);
    const root = await rawHttp(gw.url, { path: '/', headers: MCP_POST_HEADERS, body });
    expect(root.status).toBe(404);
    const put = await rawHttp(gw.url, { method: 'PUT', path: '/sse', headers: MCP_POST_HEADERS, body });
    expect(put.status).toBe(405);
    const evil = await rawHttp(gw.url, { method: 'GET', path: '/sse', headers: { Host: 'evil.example', Accept: 'text/event-stream' } });
    expect(evil.status).toBe(403);
  });
});

describe('stdio transport', () => {
  let main: string;

  beforeAll(() => {
    main = buildGateway();
  }, 120_000);

  it('lists tools and runs execute_query through the SDK stdio client', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [main, ...STDIO_ARGS], cwd: ROOT, stderr: 'pipe' });
    const stderr: string[] = [];
    transport.stderr?.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
    const transportErrors: Error[] = [];
    const client = new Client({ name: 'stdio-e2e', version: '1.0.0' });
    await client.connect(transport);
    transport.onerror = (err) => transportErrors.push(err);
    try {
      expect(client.getServerVersion()?.name).toBe('Altinity ClickHouse MCP Server');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['execute_query', 'write_query']);
      const result = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 41 + 1 AS answer' } });
      expect(okJson(result)).toEqual({ columns: ['answer'], types: ['UInt16'], rows: [[42]], count: 1 });
      expect(errorText(await client.callTool({ name: 'execute_query', arguments: {} }))).toBe('query parameter is required');
    } finally {
      await client.close();
    }
    expect(transportErrors).toEqual([]);
    expect(stderr.join('')).toContain('"level"'); // the logs went to stderr
  });

  it('writes nothing but JSON-RPC messages to stdout; logs go to stderr', async () => {
    const child = spawn(process.execPath, [main, ...STDIO_ARGS, '--log-level', 'debug'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const send = (msg: object) => child.stdin.write(`${JSON.stringify(msg)}\n`);
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT number FROM system.numbers LIMIT 3' } } });
    send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT * FROM mcpe2e_missing_table' } } });
    // Requests run concurrently, so answers may come in any order: wait for all four complete lines.
    const answered = () => new Set(stdout.split('\n').slice(0, -1).map((l) => /"id":(\d+)/.exec(l)?.[1]).filter(Boolean)).size;
    await waitFor(async () => answered() >= 4, 15_000, 'four answers on stdout');
    child.stdin.end(); // the client goes away: the gateway exits
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    const context = `exit ${code}\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${stderr.slice(-3000)}`;
    expect(code, context).toBe(0);

    const lines = stdout.split('\n').filter((l) => l !== '');
    const messages = lines.map((l) => {
      try {
        return JSON.parse(l) as { jsonrpc: string; id?: number; result?: any; error?: unknown };
      } catch {
        throw new Error(`stdout carries a line that is not JSON-RPC: ${l.slice(0, 300)}\n${context}`);
      }
    });
    for (const m of messages) expect(m.jsonrpc).toBe('2.0');
    expect(messages.map((m) => m.id).sort(), context).toEqual([1, 2, 3, 4]);
    const byId = (id: number) => messages.find((m) => m.id === id)!;
    expect(byId(1).result.protocolVersion).toBe('2025-06-18');
    expect(byId(2).result.tools).toHaveLength(2);
    expect(okJson(byId(3).result).rows).toEqual([[0], [1], [2]]);
    expect(errorText(byId(4).result)).toContain('UNKNOWN_TABLE');
    expect(stdout).not.toContain('"level"');
    const logLines = stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.some((l) => l.includes('"level":"debug"')), context).toBe(true);
  });
});
