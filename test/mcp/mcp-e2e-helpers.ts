import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { chQuery } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

/**
 * Helpers shared by the MCP end-to-end specs: raw HTTP exchanges (full control over every header, Host
 * included), SSE body decoding, tool-result accessors, temporary config files and ClickHouse polling.
 */

/** The headers a streamable-HTTP POST needs. */
export const MCP_POST_HEADERS: Record<string, string> = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
};

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method?: string;
  path?: string;
  /** Exactly these headers are sent (node adds only Host and Content-Length/Transfer-Encoding). */
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

/** One HTTP exchange with node:http, so that Host, a missing Accept and odd methods go out as written. */
export function rawHttp(baseUrl: string, req: RawRequest = {}): Promise<RawResponse> {
  const url = new URL(req.path ?? '/', baseUrl);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      url,
      { method: req.method ?? 'POST', headers: req.headers ?? {}, signal: req.signal, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** The JSON-RPC messages of a `text/event-stream` body (each `data:` payload of each event). */
export function sseMessages(body: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const event of body.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) out.push(JSON.parse(data) as Record<string, unknown>);
  }
  return out;
}

export interface RpcAnswer extends RawResponse {
  /** The JSON-RPC answer, from the SSE stream or a plain JSON body. */
  message: { jsonrpc: string; id: unknown; result?: any; error?: { code: number; message: string; data?: unknown } };
}

let nextId = 1;

/** Sends one JSON-RPC request as a raw streamable-HTTP POST and decodes the answer. */
export async function rpc(
  baseUrl: string,
  method: string,
  params?: unknown,
  opts: { headers?: Record<string, string>; path?: string; id?: number | string } = {},
): Promise<RpcAnswer> {
  const id = opts.id ?? nextId++;
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
  const res = await rawHttp(baseUrl, { path: opts.path, headers: { ...MCP_POST_HEADERS, ...opts.headers }, body });
  const contentType = String(res.headers['content-type'] ?? '');
  const messages = contentType.startsWith('text/event-stream') ? sseMessages(res.body) : [JSON.parse(res.body)];
  const answer = messages.find((m) => m.id === id) ?? messages[messages.length - 1];
  return { ...res, message: answer as RpcAnswer['message'] };
}

/** A tools/call over a raw POST; returns the JSON-RPC answer. */
export function rawToolCall(baseUrl: string, name: string, args: unknown): Promise<RpcAnswer> {
  return rpc(baseUrl, 'tools/call', args === undefined ? { name } : { name, arguments: args });
}

/** A tools/call result as the SDK client types it (a union that includes the legacy `toolResult` form). */
export type ToolResultLike = object;

const asResult = (r: ToolResultLike) => r as { content?: unknown; isError?: boolean };

/** The texts of a tool result's content blocks. */
export function texts(result: ToolResultLike): string[] {
  const content = asResult(result).content as Array<{ type: string; text?: string }>;
  expect(Array.isArray(content)).toBe(true);
  for (const block of content) expect(block.type).toBe('text');
  return content.map((b) => b.text ?? '');
}

/** Asserts an isError tool result with exactly one text block and returns that text. */
export function errorText(result: ToolResultLike): string {
  expect(asResult(result).isError).toBe(true);
  const t = texts(result);
  expect(t).toHaveLength(1);
  return t[0]!;
}

/** Asserts a successful tool result and returns the parsed JSON of its first block. */
export function okJson(result: ToolResultLike): any {
  if (asResult(result).isError) throw new Error(`tool failed: ${texts(result).join('\n')}`);
  return JSON.parse(texts(result)[0]!);
}

/** Starts a gateway with the given transport (the shared helper defaults to http; later flags win). */
export function startWithTransport(transport: 'http' | 'sse', flags: string[]): Promise<TestGateway> {
  return startGateway(['--transport', transport, ...flags]);
}

/** A temporary config file; `cleanup()` removes it. */
export function tempConfig(yaml: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpe2e-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, yaml);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the time it took, or throws. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 100): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Number of running ClickHouse queries whose text contains `marker` (the polling query itself excluded). */
export async function runningQueries(marker: string): Promise<number> {
  const escaped = marker.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/%/g, '\\%').replace(/_/g, '\\_');
  const out = await chQuery(
    `SELECT count() FROM system.processes WHERE query LIKE '%${escaped}%' AND query NOT LIKE '%system.processes%' FORMAT TabSeparated`,
  );
  return Number(out.trim());
}

/** A ~10 s query on ClickHouse 18.16 (sleep() is capped at 3 s per block); `tag` makes it findable. */
export function slowQuery(tag: string): string {
  return `SELECT sleepEachRow(0.5), '${tag}' AS tag FROM system.numbers LIMIT 20 SETTINGS max_block_size = 1`;
}
