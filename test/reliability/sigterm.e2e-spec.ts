import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ops/ops-helpers.js';
import { PrivateClickHouse } from '../setup/clickhouse-server.js';
import { builtGatewayMain } from '../support/built-gateway.js';
import {
  MCP_HEADERS,
  pollUntil,
  portClosed,
  rpcAnswer,
  runningWithMarker,
  shortSleepQuery,
  tenSecondQuery,
  withTimeout,
} from './reliability-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = builtGatewayMain();
/** Own ClickHouse: the drain kills queries on it. */
const CH_PORT = 18142;
const SHUTDOWN_TIMEOUT_S = 2;
/** After the drain window: KILLs (≤ 3 s, normally ms), the post-cancel grace (≤ 2 s, normally ms), log flush (≤ 1 s). */
const EXIT_MARGIN_MS = 4_000;


interface CallOutcome {
  status?: number;
  ms: number;
  answer?: Record<string, any>;
  /** Transport failure (reset, refused) — never expected. */
  error?: string;
}

/** A tools/call on its own connection (no shared agent), so that a cut connection shows as such. */
function toolCall(port: number, query: string, id: number): Promise<CallOutcome> {
  const started = performance.now();
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } });
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { ...MCP_HEADERS, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started, answer: rpcAnswer(String(res.headers['content-type'] ?? ''), text) }));
      res.on('error', (err) => resolve({ ms: performance.now() - started, error: err.message }));
    });
    req.on('error', (err) => resolve({ ms: performance.now() - started, error: err.message }));
    req.end(body);
  });
}

describe('SIGTERM to the built gateway with calls in flight', () => {
  const ch = new PrivateClickHouse(CH_PORT);
  let child: ChildProcess | undefined;
  let stderr = '';

  beforeAll(async () => {
    ch.start();
  }, 200_000);

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ch.destroy();
  });

  it('each call gets its result or a clean error, ClickHouse queries end, exit 0 within the drain timeout + margin, port closed', async () => {
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        MAIN,
        '--transport', 'http',
        '--address', '127.0.0.1',
        '--port', String(port),
        '--clickhouse-host', '127.0.0.1',
        '--clickhouse-port', String(CH_PORT),
        '--shutdown-timeout', String(SHUTDOWN_TIMEOUT_S),
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (stderr = (stderr + c).slice(-200_000)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    await pollUntil(
      async () => {
        if (child!.exitCode !== null) throw new Error(`the gateway exited early:\n${stderr.slice(-2_000)}`);
        return (await fetch(`http://127.0.0.1:${port}/livez`).then((r) => r.status, () => 0)) === 200;
      },
      20_000,
      'the built gateway listening',
      100,
    );

    // Three ~1 s calls that can finish inside the drain window, one ~10 s call that cannot.
    const marker = `rel_sigterm_${Date.now()}`;
    const fast = [1, 2, 3].map((id) => toolCall(port, shortSleepQuery(`${marker}_fast`, 1), id));
    const slow = toolCall(port, tenSecondQuery(`${marker}_slow`), 4);
    await pollUntil(async () => (await runningWithMarker(marker, ch.url)) === 4, 5_000, 'all four queries running in ClickHouse');

    const termAt = performance.now();
    child.kill('SIGTERM');
    // The listener closes at once: new connections are refused while the calls drain.
    await pollUntil(() => portClosed(port), 1_500, 'the port closed to new connections', 50);

    const fastResults = await withTimeout(Promise.all(fast), SHUTDOWN_TIMEOUT_S * 1000 + EXIT_MARGIN_MS, 'fast calls');
    const slowResult = await withTimeout(slow, SHUTDOWN_TIMEOUT_S * 1000 + EXIT_MARGIN_MS, 'slow call');
    const exit = await withTimeout(exited, SHUTDOWN_TIMEOUT_S * 1000 + EXIT_MARGIN_MS + 2_000, 'process exit');
    const exitMs = exit.at - termAt;
    console.info(
      `sigterm: fast calls ${fastResults.map((r) => Math.round(r.ms)).join('/')} ms, slow call ${Math.round(slowResult.ms)} ms, ` +
        `exit ${exit.code} ${Math.round(exitMs)} ms after SIGTERM`,
    );

    // Fast calls: complete results.
    for (const r of fastResults) {
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(200);
      expect(r.answer?.result?.isError).toBeFalsy();
      expect(JSON.parse(r.answer!.result.content[0].text).count).toBe(4);
    }
    // The slow call: a clean MCP tool error naming the shutdown, not a cut connection.
    expect(slowResult.error).toBeUndefined();
    expect(slowResult.status).toBe(200);
    expect(slowResult.answer?.result?.isError).toBe(true);
    expect(slowResult.answer?.result?.content?.[0]?.text).toMatch(/cancelled because the gateway is shutting down/);
    expect(slowResult.ms).toBeLessThan(SHUTDOWN_TIMEOUT_S * 1000 + EXIT_MARGIN_MS + 1_000);

    // Their ClickHouse queries ended (the ~10 s one was KILLed).
    await pollUntil(async () => (await runningWithMarker(marker, ch.url)) === 0, 3_000, 'no query of the calls left in ClickHouse');

    // Exit 0, within the drain timeout + margin, and nothing listens any more.
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(0);
    expect(exitMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_S * 1000 - 200);
    expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_S * 1000 + EXIT_MARGIN_MS);
    expect(await portClosed(port)).toBe(true);
    expect(stderr).toContain('"msg":"Shutdown complete"');
    expect(stderr).not.toMatch(/"level":"(error|fatal)"/);
  }, 60_000);
});
