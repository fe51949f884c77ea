import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { ShutdownState } from '../../src/common/shutdown/shutdown.state.js';
import { metricValue, parseMetrics } from '../ops/ops-helpers.js';
import { chQuery } from '../setup/clickhouse-server.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../support/gateway.js';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { connectMcp, pollUntil, rawExchange, resultText, rpcAnswer, sseMessages, STACK_TRACE } from './reliability-helpers.js';

/**
 * Replays the bad-input corpus (`bad-inputs.yaml`) over raw sockets against a gateway bound to 127.0.0.1, then
 * checks that the gateway still serves, the canary table is intact, nothing the gateway refused reached
 * ClickHouse, and the logs hold neither the ClickHouse password nor the canary tokens sent in headers and
 * query strings. The file format is described at the top of the YAML file.
 */

type StatusSpec = number | string | Array<number | string>;

interface Expectation {
  status?: StatusSpec;
  /** A JSON-RPC error in the answer: `true` for any code, or the code. */
  rpcError?: number | true;
  toolError?: boolean;
  toolOk?: boolean;
  /** Any tool result (success or isError). */
  toolResult?: boolean;
  /** A JSON-RPC result (non-tool methods). */
  result?: boolean;
  /** Regular expression tested on the error message / tool text / body. */
  match?: string;
  emptyBody?: boolean;
  /** Number of final (non-1xx) responses on the connection (or the allowed numbers); default 1. */
  responses?: number | number[];
  headers?: Record<string, string>;
}

interface BadInput {
  id: string;
  group: string;
  note?: string;
  /** `http` (default) or `sse`: which gateway receives the case. */
  gateway?: 'http' | 'sse';
  method?: string;
  path?: string;
  httpVersion?: string;
  headers?: Record<string, string | number>;
  rawHeaders?: string[];
  noHost?: boolean;
  keepAlive?: boolean;
  body?: string;
  bodyBase64?: string;
  json?: unknown;
  rpc?: { method: unknown; params?: unknown; id?: unknown };
  tool?: { name: unknown; arguments?: unknown };
  repeat?: { prefix?: string; unit: string; count: number; suffix?: string };
  chunked?: boolean;
  contentLength?: number | string;
  raw?: string;
  timeoutMs?: number;
  expect: Expectation;
}

const corpusText = readFileSync(new URL('./bad-inputs.yaml', import.meta.url), 'utf8');
// The corpus reuses its header anchors a few hundred times; the default alias budget (100) is meant for untrusted YAML.
const corpus = parse(corpusText, { merge: true, maxAliasCount: 10_000 }) as { cases: BadInput[] };
const cases = corpus.cases;

const PUBLIC_ROUTES = ['/', '/mcp', '/anything', '/health', '/livez', '/readyz', '/metrics', '/sse'];
const MAX_BODY = 262_144;
/** The ClickHouse password of user `tester` on the test server: must never be logged. */
const CH_PASSWORD = 'secret';
const RUN = randomBytes(6).toString('hex');
/** Sent in Authorization headers, query strings and cookies: must never be logged. */
const CANARY = `CANARY${RUN}tok`;
/** Put into SQL the gateway must refuse: must never show up in ClickHouse's query log. */
const SMUGGLE = `smuggle${RUN}mark`;
/** Put into SQL the gateway must pass on: must show up in the query log (proves the check above can see). */
const REACH = `reach${RUN}mark`;
const CANARY_ROWS = [
  [1, 'canary-row-one'],
  [2, 'canary-row-two'],
  [3, 'canary-row-three'],
] as const;

/**
 * A TCP listener on 127.0.0.1 that only counts connections: cases that name it in `url()`, `remote()`,
 * `mysql()`… (placeholder {{LISTENER}}) must never make ClickHouse connect to it. It accepts and closes.
 */
const listener: { server?: Server; port: number; connections: number } = { port: 0, connections: 0 };

let autoId = 1;
/** The id of the live legacy-SSE session the `sse-session` cases post into. */
let sessionId = 'not-opened';

function substitute(text: string, port: number): string {
  return text
    .replace(/\{\{REPEAT (\d+) (.+?)\}\}/gs, (_, n: string, unit: string) => unit.repeat(Math.min(Number(n), 1_000_000)))
    .replaceAll('{{PORT}}', String(port))
    .replaceAll('{{HOST}}', `127.0.0.1:${port}`)
    .replaceAll('{{CANARY}}', CANARY)
    .replaceAll('{{SMUGGLE}}', SMUGGLE)
    .replaceAll('{{REACH}}', REACH)
    .replaceAll('{{LISTENER}}', String(listener.port))
    .replaceAll('{{SESSION}}', sessionId);
}

function substituteDeep(value: unknown, port: number): unknown {
  if (typeof value === 'string') return substitute(value, port);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, port));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Own property even for "__proto__", as JSON.parse would make it.
      Object.defineProperty(out, substitute(k, port), { value: substituteDeep(v, port), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

function bodyOf(c: BadInput, port: number): Buffer | undefined {
  if (c.body !== undefined) return Buffer.from(substitute(c.body, port), 'utf8');
  if (c.bodyBase64 !== undefined) return Buffer.from(c.bodyBase64, 'base64');
  if (c.repeat) return Buffer.from(`${substitute(c.repeat.prefix ?? '', port)}${c.repeat.unit.repeat(Math.min(c.repeat.count, 2_000_000))}${substitute(c.repeat.suffix ?? '', port)}`, 'utf8');
  let message: unknown = c.json;
  if (c.tool) {
    const params: Record<string, unknown> = { name: c.tool.name };
    if ('arguments' in c.tool) params.arguments = c.tool.arguments;
    message = { jsonrpc: '2.0', id: autoId++, method: 'tools/call', params };
  } else if (c.rpc) {
    message = { jsonrpc: '2.0', id: 'id' in c.rpc ? c.rpc.id : autoId++, method: c.rpc.method, ...('params' in c.rpc ? { params: c.rpc.params } : {}) };
  }
  return message === undefined ? undefined : Buffer.from(JSON.stringify(substituteDeep(message, port)), 'utf8');
}

/** The bytes of the request: a raw text, or a request line, headers and body assembled as the case says. */
function buildRequest(c: BadInput, port: number): Buffer {
  // Raw requests are Latin-1 text: one byte per character, so any byte can be written.
  if (c.raw !== undefined) return Buffer.from(substitute(c.raw, port), 'latin1');
  const method = c.method ?? 'POST';
  const headers = Object.entries(c.headers ?? {}).map(([k, v]) => [k, substitute(String(v), port)] as const);
  const has = (name: string) => headers.some(([k]) => k.toLowerCase() === name);
  const lines = [`${method} ${substitute(c.path ?? '/', port)} ${c.httpVersion ?? 'HTTP/1.1'}`];
  if (!c.noHost && !has('host')) lines.push(`Host: 127.0.0.1:${port}`);
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  for (const raw of c.rawHeaders ?? []) lines.push(substitute(raw, port));
  if (!c.keepAlive && !has('connection')) lines.push('Connection: close');
  let body = bodyOf(c, port);
  const wantsBody = body !== undefined || ['POST', 'PUT', 'PATCH'].includes(method);
  if (c.chunked) {
    lines.push('Transfer-Encoding: chunked');
    const parts: Buffer[] = [];
    const data = body ?? Buffer.alloc(0);
    for (let i = 0; i < data.length; i += 16_384) {
      const chunk = data.subarray(i, i + 16_384);
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    body = Buffer.concat(parts);
  } else if (c.contentLength !== undefined) {
    if (c.contentLength !== 'omit') lines.push(`Content-Length: ${c.contentLength}`);
  } else if (wantsBody && !has('content-length') && !has('transfer-encoding')) {
    lines.push(`Content-Length: ${body?.length ?? 0}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

function statusMatches(status: number, spec: StatusSpec): boolean {
  const one = (s: number | string): boolean => (typeof s === 'number' ? s === status : /^\dxx$/.test(s) ? Math.floor(status / 100) === Number(s[0]) : Number(s) === status);
  return Array.isArray(spec) ? spec.some(one) : one(spec);
}

/** Route a case addresses, for the coverage check (`/mcp/x` → `/mcp`, `/anything/deeper` → `/anything`). */
function routeOf(c: BadInput): string | undefined {
  const target = c.raw !== undefined ? /^[A-Z]+ (\S+)/.exec(c.raw)?.[1] : (c.path ?? '/');
  if (!target) return undefined;
  const path = target.replace(/^https?:\/\/[^/]+/, '').split('?')[0]!;
  if (path === '/') return '/';
  return PUBLIC_ROUTES.find((r) => r !== '/' && (path === r || path.startsWith(`${r}/`) || path.startsWith(`${r}?`)));
}

/** Opens `GET /sse` on a raw socket and waits for the endpoint event that names the session. */
function openSseSession(port: number): Promise<{ socket: Socket; text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const state = { socket: connect({ host: '127.0.0.1', port }), text: '', closed: false };
    const timer = setTimeout(() => reject(new Error(`no SSE endpoint event within 5 s: ${state.text.slice(0, 300)}`)), 5_000);
    state.socket.setEncoding('utf8');
    state.socket.on('data', (chunk: string) => {
      if (state.text.length < 4_000_000) state.text += chunk;
      const m = /sessionId=([0-9a-f-]{36})/i.exec(state.text);
      if (m && sessionId !== m[1]) {
        sessionId = m[1]!;
        clearTimeout(timer);
        resolve(state);
      }
    });
    state.socket.on('close', () => (state.closed = true));
    state.socket.on('error', (err) => reject(err));
    state.socket.write(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
  });
}

describe('bad-input corpus over raw sockets', () => {
  let gw: TestGateway;
  let sse: TestGateway;
  let ports: { http: number; sse: number };
  /** The open `GET /sse` stream and everything it delivered. */
  let stream: { socket: Socket; text: string; closed: boolean } | undefined;
  const timings = new Map<string, { n: number; ms: number }>();

  beforeAll(async () => {
    listener.server = createServer((socket) => {
      listener.connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.server!.listen(0, '127.0.0.1', resolve));
    listener.port = (listener.server.address() as { port: number }).port;
    await chQuery('DROP TABLE IF EXISTS default.rel_canary');
    await chQuery('CREATE TABLE default.rel_canary (id UInt32, note String) ENGINE = MergeTree ORDER BY id');
    await chQuery(`INSERT INTO default.rel_canary VALUES ${CANARY_ROWS.map(([id, note]) => `(${id}, '${note}')`).join(', ')}`);
    const flags = [
      ...TEST_CLICKHOUSE_FLAGS,
      '--clickhouse-username', 'tester',
      '--clickhouse-password', CH_PASSWORD,
      '--tool-input-settings', 'custom_tenant',
      '--max-body-bytes', String(MAX_BODY),
    ];
    gw = await startGateway(flags);
    sse = await startGateway([...flags, '--transport', 'sse']);
    ports = { http: Number(new URL(gw.url).port), sse: Number(new URL(sse.url).port) };
    stream = await openSseSession(ports.sse);
  });

  afterAll(async () => {
    const summary = [...timings.entries()].map(([g, t]) => `${g} ${t.n}/${Math.round(t.ms)}ms`).join(', ');
    console.info(`bad inputs: ${cases.length} cases; by group (count/time): ${summary}`);
    stream?.socket.destroy();
    await gw?.close();
    await sse?.close();
    await chQuery('DROP TABLE IF EXISTS default.rel_canary').catch(() => undefined);
    await new Promise((resolve) => listener.server?.close(resolve));
  });

  it('the corpus is well-formed: ≥ 150 cases, unique ids, every public route covered', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    const ids = cases.map((c) => c.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    for (const c of cases) {
      expect(c.expect, c.id).toBeTypeOf('object');
      expect(c.group, c.id).toBeTypeOf('string');
    }
    const covered = new Set(cases.filter((c) => (c.gateway ?? 'http') === 'http').map(routeOf));
    expect(PUBLIC_ROUTES.filter((r) => !covered.has(r))).toEqual([]);
    expect(cases.some((c) => JSON.stringify(c).includes('{{SMUGGLE}}'))).toBe(true);
    expect(cases.some((c) => JSON.stringify(c).includes('{{CANARY}}'))).toBe(true);
  });

  for (const c of cases) {
    it(`${c.group}: ${c.id}`, async () => {
      const port = c.gateway === 'sse' ? ports.sse : ports.http;
      const request = buildRequest(c, port);
      const started = performance.now();
      const headRequests = c.raw !== undefined ? [...c.raw.matchAll(/(?:^|\r\n\r\n)HEAD /g)].map(() => true) : [c.method === 'HEAD'];
      const ex = await rawExchange(port, request, { timeoutMs: c.timeoutMs ?? 10_000, headRequests });
      const t = timings.get(c.group) ?? { n: 0, ms: 0 };
      timings.set(c.group, { n: t.n + 1, ms: t.ms + performance.now() - started });

      const problems: string[] = [];
      if (ex.ending === 'timeout') problems.push(`the exchange did not end within ${c.timeoutMs ?? 10_000} ms (hang)`);
      const finals = ex.responses.filter((r) => r.status >= 200);
      if (finals.length === 0) problems.push(`no HTTP response (${ex.ending}${ex.error ? `: ${ex.error}` : ''})`);
      for (const r of ex.responses) {
        const text = r.body.toString('utf8');
        if (r.status >= 500) problems.push(`HTTP ${r.status}: ${text.slice(0, 300)}`);
        if (STACK_TRACE.test(text)) problems.push(`stack trace or source path in the body: ${text.slice(0, 300)}`);
        if (/root:x:0:0|\/bin\/(ba)?sh/.test(text)) problems.push('file contents in the body');
      }
      const allowed = [c.expect.responses ?? 1].flat();
      if (finals.length > 0 && !allowed.includes(finals.length)) problems.push(`expected ${allowed.join(' or ')} response(s), got ${finals.length}`);

      const final = finals[finals.length - 1];
      if (final) {
        const e = c.expect;
        const contentType = final.headers['content-type'] ?? '';
        const bodyText = final.body.toString('utf8');
        const answer = rpcAnswer(contentType, bodyText);
        if (contentType.startsWith('text/event-stream') && !answer) problems.push(`unreadable event stream: ${bodyText.slice(0, 200)}`);
        const text: string = answer?.error?.message ?? (answer?.result?.content ? resultText(answer.result) : bodyText);
        const show = `${final.status} ${bodyText.slice(0, 300)}`;
        if (e.status !== undefined && !statusMatches(final.status, e.status)) problems.push(`status ${final.status}, expected ${JSON.stringify(e.status)}: ${show}`);
        if (e.rpcError !== undefined) {
          if (!answer?.error) problems.push(`expected a JSON-RPC error: ${show}`);
          else if (e.rpcError !== true && answer.error.code !== e.rpcError) problems.push(`JSON-RPC error ${answer.error.code}, expected ${e.rpcError}: ${show}`);
        }
        if (e.toolError && answer?.result?.isError !== true) problems.push(`expected a tool error (isError): ${show}`);
        if (e.toolOk && (!answer?.result?.content || answer.result.isError)) problems.push(`expected a successful tool result: ${show}`);
        if (e.toolResult && !Array.isArray(answer?.result?.content)) problems.push(`expected a tool result: ${show}`);
        if (e.result && (answer?.result === undefined || answer.error)) problems.push(`expected a JSON-RPC result: ${show}`);
        if (e.match && !new RegExp(e.match, 's').test(text)) problems.push(`text does not match /${e.match}/: ${text.slice(0, 300)}`);
        if (e.emptyBody && final.body.length > 0) problems.push(`expected an empty body: ${show}`);
        for (const [name, re] of Object.entries(e.headers ?? {})) {
          const value = final.headers[name.toLowerCase()];
          if (value === undefined || !new RegExp(re).test(value)) problems.push(`header ${name}: ${value ?? '(absent)'} !~ /${re}/`);
        }
      }
      expect(problems, `${c.id}${c.note ? ` (${c.note})` : ''}`).toEqual([]);
    }, 20_000);
  }

  it('afterwards: the gateway still serves, the canary table is intact, refused SQL never reached ClickHouse', async () => {
    for (const g of [gw, sse]) {
      expect((await fetch(`${g.url}livez`)).status).toBe(200);
      expect((await fetch(`${g.url}readyz`)).status).toBe(200);
    }
    const client = await connectMcp(gw.url, 'after-corpus');
    try {
      const result = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT id, note FROM default.rel_canary ORDER BY id' } });
      expect(result.isError).toBeFalsy();
      expect((JSON.parse(resultText(result)) as { rows: unknown[] }).rows).toEqual(CANARY_ROWS.map(([id, note]) => [id, note]));
    } finally {
      await client.close();
    }
    expect((await chQuery('SELECT id, note FROM default.rel_canary ORDER BY id FORMAT JSONCompact').then((t) => JSON.parse(t) as { data: unknown[] })).data).toEqual(
      CANARY_ROWS.map(([id, note]) => [id, note]),
    );

    // Nothing in flight (but the SSE stream this test holds open), nothing answered 5xx.
    for (const [g, open] of [[gw, 0], [sse, 1]] as const) {
      await pollUntil(() => g.app.get(ShutdownState).inFlightRequests === open, 5_000, `${open} request(s) in flight`);
      expect(g.app.get(ClickHouseService).inFlightCount).toBe(0);
      const samples = parseMetrics(await (await fetch(`${g.url}metrics`)).text()).filter((s) => s.name === 'http_request_duration_seconds_count');
      expect(samples.filter((s) => (s.labels.status ?? '').startsWith('5')).map((s) => s.labels)).toEqual([]);
      expect(metricValue(samples, 'http_request_duration_seconds_count')).toBeGreaterThan(0);
    }

    // The query log: the marker of refused SQL is absent, the marker of SQL that was passed on is present.
    await chQuery('SYSTEM FLUSH LOGS');
    const seen = async (marker: string): Promise<number> => {
      const half = Math.floor(marker.length / 2);
      const out = await chQuery(
        `SELECT count() FROM system.query_log WHERE event_date >= yesterday() AND position(query, concat('${marker.slice(0, half)}', '${marker.slice(half)}')) > 0 FORMAT TabSeparated`,
      );
      return Number(out.trim());
    };
    expect(await seen(REACH)).toBeGreaterThan(0);
    expect(await seen(SMUGGLE)).toBe(0);
    // No table function the gateway refused made ClickHouse connect out to the local listener.
    expect(listener.connections, 'connections to the local listener named in url()/remote()/mysql() cases').toBe(0);
  });

  it('afterwards: the SSE session is still open and answered the valid messages posted into it', async () => {
    expect(stream?.closed).toBe(false);
    await pollUntil(() => ['sse-ok-ping', 'sse-ok-canary', 'sse-ok-read', 'sse-smuggle', 'sse-nesting', 'sse-unknown-tool', 'sse-deep'].every((id) => stream!.text.includes(`"id":"${id}"`)), 5_000, 'the answers on the SSE stream');
    const answers = new Map(sseMessages(stream!.text.slice(stream!.text.indexOf('event: message'))).map((m) => [m.id, m]));
    expect(answers.get('sse-ok-ping')?.result).toEqual({});
    expect(answers.get('sse-smuggle')?.result?.isError).toBe(true);
    expect(answers.get('sse-nesting')?.result?.isError).toBe(true);
    expect(answers.get('sse-unknown-tool')?.error?.code).toBe(-32602);
    expect(JSON.parse(answers.get('sse-ok-read')?.result?.content?.[0]?.text ?? '{}').rows?.[0]?.[0]).toBe(CANARY_ROWS.length);
    expect(STACK_TRACE.test(stream!.text)).toBe(false);
  });

  it('afterwards: the logs hold neither the ClickHouse password nor the canary tokens', () => {
    for (const g of [gw, sse]) {
      const logs = g.logs.join('');
      expect(logs.length).toBeGreaterThan(1000);
      expect(logs).toContain('request completed');
      expect(logs.includes(CANARY), 'canary token in the logs').toBe(false);
      expect(logs.includes(CANARY.slice(6)), 'part of the canary token in the logs').toBe(false);
      expect(/\bsecret\b/.test(logs), 'the ClickHouse password in the logs').toBe(false);
      expect(logs.includes(SMUGGLE), 'refused SQL in the logs').toBe(false);
    }
  });
});
