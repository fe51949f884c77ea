import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chQuery } from '../setup/clickhouse-server.js';
import { sseMessages as sseMessagesOf } from '../mcp/mcp-e2e-helpers.js';

/**
 * Helpers of the reliability suite: bounded loops, timeouts that turn a hang into a failure, a raw-socket HTTP
 * client (so malformed requests can be written byte by byte), SSE decoding and ClickHouse polling.
 * Every loop here is bounded both in count and in time.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class HangError extends Error {}

/** Rejects with a HangError when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HangError(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `probe` every `stepMs` until it is true; resolves with the elapsed ms, rejects after `timeoutMs` (and at most `timeoutMs/stepMs + 1` probes). */
export async function pollUntil(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string, stepMs = 50): Promise<number> {
  const started = Date.now();
  const maxProbes = Math.ceil(timeoutMs / stepMs) + 1;
  for (let i = 0; i < maxProbes; i++) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) break;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Runs `worker(i)` for i in [0, total) with `concurrency` lanes. Stops handing out work once `deadlineMs` has
 * passed (so the loop is bounded in time as well as in count); returns how many ran.
 */
export async function runPool(total: number, concurrency: number, deadlineMs: number, worker: (i: number, lane: number) => Promise<void>): Promise<number> {
  const stopAt = Date.now() + deadlineMs;
  let next = 0;
  const lanes = Array.from({ length: concurrency }, async (_, lane) => {
    while (next < total && Date.now() < stopAt) {
      const i = next++;
      await worker(i, lane);
    }
  });
  await Promise.all(lanes);
  return next;
}

/** A real GC when the runtime can expose one (V8 flag at run time), else undefined. */
export function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Heap and RSS after a settled GC (a few passes, with turns of the event loop in between). */
export async function settledMemory(gc: (() => void) | undefined): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(50);
  }
  return process.memoryUsage();
}

/** An MCP SDK client over stateless streamable HTTP. */
export async function connectMcp(url: string, name = 'reliability'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** The text blocks of a tool result. */
export function resultText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}

/** The JSON-RPC messages carried by a `text/event-stream` body (shared with the MCP e2e helpers). */
export const sseMessages = sseMessagesOf as (body: string) => Array<Record<string, any>>;

/** The JSON-RPC answer in an HTTP response body: SSE or plain JSON; undefined when the body is neither. */
export function rpcAnswer(contentType: string, body: string): Record<string, any> | undefined {
  try {
    if (contentType.startsWith('text/event-stream')) {
      const messages = sseMessages(body);
      return messages.find((m) => 'result' in m || 'error' in m) ?? messages[messages.length - 1];
    }
    if (contentType.includes('json') && body.trim() !== '') return JSON.parse(body) as Record<string, any>;
  } catch {
    return undefined;
  }
  return undefined;
}

export const MCP_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

let rpcId = 1;

/** One `tools/call` POST with fetch (own signal, so the caller can abort it mid-query). */
export async function fetchToolCall(
  baseUrl: string,
  name: string,
  args: unknown,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<{ status: number; answer: Record<string, any> | undefined; body: string }> {
  const res = await fetch(baseUrl, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...init.headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method: 'tools/call', params: { name, arguments: args } }),
    signal: init.signal,
  });
  const body = await res.text();
  return { status: res.status, answer: rpcAnswer(res.headers.get('content-type') ?? '', body), body };
}

// ----------------------------------------------------------------------------------------------------------------
// Raw HTTP over a socket

export interface RawHttpResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  /** Every response read from the connection, interim (1xx) ones included, in order. */
  responses: RawHttpResponse[];
  /** The last non-interim response, if one arrived. */
  final?: RawHttpResponse;
  /** Bytes received in total. */
  received: number;
  /** How the exchange ended. */
  ending: 'closed' | 'reset' | 'timeout';
  error?: string;
}

function findHeaderEnd(buf: Buffer, from: number): number {
  return buf.indexOf('\r\n\r\n', from, 'latin1');
}

/**
 * Parses the HTTP/1.1 responses in `buf`. Bodies are framed by Content-Length, chunked encoding, or the end
 * of the connection; `headMethods[i]` says whether the i-th final response answers a HEAD (no body).
 */
export function parseResponses(buf: Buffer, headMethods: boolean[]): RawHttpResponse[] {
  const out: RawHttpResponse[] = [];
  let pos = 0;
  let finals = 0;
  while (pos < buf.length) {
    const end = findHeaderEnd(buf, pos);
    if (end < 0) break;
    const head = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(head[0] ?? '');
    if (!m) break;
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) {
        const key = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
      }
    }
    pos = end + 4;
    let body: Buffer = Buffer.alloc(0);
    const interim = status >= 100 && status < 200;
    const noBody = interim || status === 204 || status === 304 || headMethods[finals] === true;
    if (!noBody) {
      if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
        const parts: Buffer[] = [];
        for (let guard = 0; guard < 1_000_000; guard++) {
          const lineEnd = buf.indexOf('\r\n', pos, 'latin1');
          if (lineEnd < 0) {
            pos = buf.length;
            break;
          }
          const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
          pos = lineEnd + 2;
          if (!Number.isFinite(size) || size === 0) {
            const trailerEnd = buf.indexOf('\r\n', pos, 'latin1');
            pos = trailerEnd < 0 ? buf.length : trailerEnd + 2;
            break;
          }
          parts.push(buf.subarray(pos, pos + size));
          pos += size + 2;
        }
        body = Buffer.concat(parts);
      } else if (headers['content-length'] !== undefined) {
        const len = Number(headers['content-length']);
        body = buf.subarray(pos, pos + len);
        pos += len;
      } else {
        body = buf.subarray(pos);
        pos = buf.length;
      }
    }
    out.push({ status, statusText: m[2] ?? '', headers, body });
    if (!interim) finals++;
  }
  return out;
}

/**
 * Writes `request` (any bytes) to 127.0.0.1:`port` and reads until the server closes the connection (the
 * requests are expected to carry `Connection: close`), or `timeoutMs` passes. Write errors after the server
 * answered early (413 while the body is still being sent) are expected and ignored.
 */
export function rawExchange(port: number, request: Buffer, opts: { timeoutMs?: number; headRequests?: boolean[]; host?: string } = {}): Promise<RawExchange> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: opts.host ?? '127.0.0.1', port });
    const finish = (ending: RawExchange['ending'], error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const buf = Buffer.concat(chunks);
      const responses = parseResponses(buf, opts.headRequests ?? []);
      const finals = responses.filter((r) => r.status >= 200 || r.status < 100);
      resolve({ responses, final: finals[finals.length - 1], received: buf.length, ending, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // EPIPE/ECONNRESET while still writing a body the server refused: the answer may already be in.
      if (chunks.length > 0) finish('closed', err.code);
      else finish('reset', err.code ?? err.message);
    });
    socket.on('connect', () => {
      socket.write(request, () => undefined);
    });
  });
}

/** True when nothing listens on 127.0.0.1:`port` (connection refused). */
export function portClosed(port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.on('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED');
    });
  });
}

// ----------------------------------------------------------------------------------------------------------------
// ClickHouse

/** Number of running queries whose text contains `marker` (the polling query itself excluded by construction). */
export async function runningWithMarker(marker: string, url?: string): Promise<number> {
  // The marker is split so this query's own text does not contain it.
  const half = Math.floor(marker.length / 2);
  const out = await chQuery(
    `SELECT count() FROM system.processes WHERE position(query, concat('${marker.slice(0, half)}', '${marker.slice(half)}')) > 0 FORMAT TabSeparated`,
    url ? { url } : {},
  );
  return Number(out.trim());
}

/** A ~10 s query on ClickHouse 18.16 (sleep() is capped at 3 s per block), findable by `marker`. */
export function tenSecondQuery(marker: string): string {
  return `SELECT sleepEachRow(0.5), '${marker}' AS marker FROM system.numbers LIMIT 20 SETTINGS max_block_size = 1`;
}

/** A query of about `seconds` (in 0.25 s rows), findable by `marker`. */
export function shortSleepQuery(marker: string, seconds: number): string {
  return `SELECT sleepEachRow(0.25), '${marker}' AS marker FROM system.numbers LIMIT ${Math.max(1, Math.round(seconds * 4))} SETTINGS max_block_size = 1`;
}

/** Runs a command and resolves with its output, never blocking the event loop (unlike execFileSync). */
export function execAsync(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A text that must never appear in a response body: a JavaScript stack frame or a source path. */
export const STACK_TRACE = /(?:^|\n)\s*at\s+\S.*[(\s](?:file:\/\/)?\/[^\s)]+:\d+(?::\d+)?\)?|node_modules\/|\/work\/main\/|\.(?:ts|js|mjs):\d+:\d+/;
