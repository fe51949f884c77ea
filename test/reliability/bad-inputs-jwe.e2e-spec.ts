import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintJweToken } from '../../src/auth/jwe/jwe-token.js';
import { Canary, JWE_SECRET, jweFlags, JWT_SECRET } from '../auth/jwe-http-helpers.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { BAD_JWE_PATHS, badJweTokens, type BadToken } from './bad-inputs-jwe.js';
import { rawExchange, STACK_TRACE } from './reliability-helpers.js';

/**
 * The JWE bad-input corpus (`bad-inputs-jwe.ts`) over raw sockets against a JWE-only gateway: every malformed
 * or refused token, in the path, in `Authorization: Bearer` and in `x-altinity-mcp-key`, gets 401 (or a 404
 * for a path that is no route; Node's own 400/431 for header text it refuses to parse) — never a 5xx, never a
 * stack trace, never the token echoed — and none reaches the canary listener the tokens point at.
 */

const PING = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1' } } });

function request(port: number, path: string, headers: Record<string, string> = {}): Buffer {
  const lines = [
    `POST ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Content-Type: application/json',
    'Accept: application/json, text/event-stream',
    `Content-Length: ${Buffer.byteLength(PING)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), Buffer.from(PING)]);
}

/** A token as path text: kept verbatim when it is plain URL-path text, percent-encoded otherwise. */
function asPath(token: string): string {
  return /^[A-Za-z0-9._~-]*$/.test(token) ? `/${token}` : `/${encodeURIComponent(token)}`;
}

describe('bad inputs: malformed JWE tokens', () => {
  let gw: TestGateway;
  let port: number;
  let tokens: BadToken[];
  const canary = new Canary();

  beforeAll(async () => {
    await canary.start();
    gw = await startGateway(jweFlags(['--openapi', 'http']));
    port = Number(new URL(gw.url).port);
    tokens = await badJweTokens({ jweSecret: JWE_SECRET, jwtSecret: JWT_SECRET, canaryHost: '127.0.0.1', canaryPort: canary.port });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await canary.stop();
  });

  it('the corpus holds 60+ distinct malformed tokens', () => {
    expect(tokens.length).toBeGreaterThanOrEqual(60);
    expect(new Set(tokens.map((t) => t.id)).size).toBe(tokens.length);
    expect(new Set(tokens.map((t) => t.token)).size).toBe(tokens.length);
  });

  it('each one, in the path, Bearer and x-altinity-mcp-key (MCP) and on OpenAPI → 401 (never 5xx), and nothing reaches the canary', async () => {
    const statuses: Record<string, number[]> = {};
    for (const { id, token } of tokens) {
      const headerSafe = /^[\x21-\x7e]*$/.test(token);
      const attempts: Array<[string, Buffer, number[]]> = [
        ['path', request(port, asPath(token)), [401, 431]],
        ['openapi', request(port, `${asPath(token)}/openapi/execute_query?query=SELECT%201`), [401, 405, 431]],
      ];
      if (headerSafe) {
        attempts.push(['bearer', request(port, '/', { Authorization: `Bearer ${token}` }), [401, 431]]);
        attempts.push(['x-key', request(port, '/', { 'x-altinity-mcp-key': token }), [401, 431]]);
      }
      for (const [where, raw, allowed] of attempts) {
        const ex = await rawExchange(port, raw);
        const status = ex.final?.status ?? 0;
        (statuses[`${id}/${where}`] ??= []).push(status);
        expect(ex.ending, `${id}/${where}`).not.toBe('timeout');
        expect(allowed, `${id}/${where}: ${status} ${ex.final?.body.toString('utf8').slice(0, 200)}`).toContain(status);
        const body = ex.final?.body.toString('utf8') ?? '';
        expect(body, `${id}/${where}`).not.toMatch(STACK_TRACE);
        if (token.length > 12) expect(body, `${id}/${where}`).not.toContain(token);
      }
    }
    expect(canary.connections).toBe(0);
    // Node's parser answers 431 only for the oversized ones; everything else is the gateway's own 401.
    const fourThirtyOne = Object.entries(statuses).filter(([, s]) => s.includes(431)).map(([k]) => k.split('/')[0]);
    for (const id of new Set(fourThirtyOne)) expect(id).toMatch(/^over-16KiB/);
  });

  it.each(BAD_JWE_PATHS)('path $id → $status', async ({ path, status }) => {
    const ex = await rawExchange(port, request(port, path));
    expect(status).toContain(ex.final?.status);
    expect(ex.final?.body.toString('utf8') ?? '').not.toMatch(STACK_TRACE);
  });

  it('afterwards the gateway still serves a good token', async () => {
    const good = await mintJweToken(
      { host: CH_TEST_HOST, port: CH_TEST_PORT, username: 'default', exp: Math.floor(Date.now() / 1000) + 600 },
      { jweSecretKey: JWE_SECRET, jwtSecretKey: JWT_SECRET },
    );
    const ex = await rawExchange(port, request(port, `/${good}`));
    expect(ex.final?.status).toBe(200);
    expect(canary.connections).toBe(0);
    const logs = gw.logs.join('\n');
    const leaked = tokens.filter(({ token }) => token.length > 40 && /^[A-Za-z0-9._-]+$/.test(token) && logs.includes(token));
    expect(leaked.map((t) => `${t.id}: ${logs.split('\n').find((l) => l.includes(t.token))?.slice(0, 300)}`)).toEqual([]);
  });
});
