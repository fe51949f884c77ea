import type { NestExpressApplication } from '@nestjs/platform-express';
import { EventEmitter } from 'node:events';
import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GracefulShutdown } from '../../src/common/shutdown/graceful-shutdown.service.js';
import { installShutdownSignals } from '../../src/common/shutdown/shutdown-signals.js';
import { ShutdownState } from '../../src/common/shutdown/shutdown.state.js';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { CH_TEST_HOST, CH_TEST_PORT, chQuery } from '../setup/clickhouse-server.js';
import { type OpsGateway, startOpsGateway, waitUntil } from './ops-helpers.js';

const CH_FLAGS = ['--clickhouse-host', CH_TEST_HOST, '--clickhouse-port', String(CH_TEST_PORT)];

/** Adds a route that answers after `ms` (registered before Nest's routes, behind the ops pipeline). */
function addSlowRoute(app: NestExpressApplication, path: string, ms: number): void {
  app.getHttpAdapter().getInstance().get(path, (_req: unknown, res: { status(n: number): { json(b: unknown): void } }) => {
    setTimeout(() => res.status(200).json({ slow: 'done' }), ms);
  });
}

/** A second listener on the same Express app: lets a test reach the pipeline after the main port stopped accepting. */
async function sideDoor(app: NestExpressApplication): Promise<{ server: Server; base: string }> {
  const server = createServer(app.getHttpAdapter().getInstance());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A GET that does not go through fetch's shared agent (so a keep-alive socket is not reused across tests). */
function get(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('graceful shutdown', () => {
  let gw: OpsGateway | undefined;
  let side: Server | undefined;

  afterEach(async () => {
    side?.close();
    side = undefined;
    await gw?.app.close().catch(() => undefined);
    gw = undefined;
  });

  it('drains: readiness 503 at once, no new connections, the in-flight request finishes, the server closes', async () => {
    const built = await startOpsGatewayWithSlowRoute(['--shutdown-timeout', '5'], 800);
    gw = built;
    const door = await sideDoor(gw.app);
    side = door.server;
    const state = gw.app.get(ShutdownState);

    const slow = get(`${gw.base}/test/slow`);
    await waitUntil(async () => state.inFlightRequests >= 1, 2000, 10);

    const started = Date.now();
    const done = gw.app.get(GracefulShutdown).shutdown(gw.app, 'test');

    const ready = await get(`${door.base}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not_ready', reason: 'shutting_down' });
    const health = await get(`${door.base}/health`);
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'unhealthy' });
    expect(health.headers.connection).toBe('close');
    await expect(get(`${gw.base}/livez`)).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);

    const slowRes = await slow;
    expect(slowRes.status).toBe(200);
    expect(JSON.parse(slowRes.body)).toEqual({ slow: 'done' });

    const report = await done;
    expect(report.drained).toBe(true);
    expect(report.leftInFlight).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(gw.app.getHttpServer().listening).toBe(false);
    expect(gw.logs.some((l) => l.msg === 'Shutdown complete' && l.drained === true)).toBe(true);
  });

  it('gives up after server.shutdown_timeout: cuts the request that is still running and closes', async () => {
    gw = await startOpsGatewayWithSlowRoute(['--shutdown-timeout', '1'], 30_000);
    const state = gw.app.get(ShutdownState);
    const slow = get(`${gw.base}/test/slow`).then(
      (r) => ({ ok: true as const, status: r.status }),
      (err: Error) => ({ ok: false as const, error: err.message }),
    );
    await waitUntil(async () => state.inFlightRequests >= 1, 2000, 10);

    const started = Date.now();
    const report = await gw.app.get(GracefulShutdown).shutdown(gw.app, 'test');
    const elapsed = Date.now() - started;
    expect(report.drained).toBe(false);
    expect(report.leftInFlight).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(5000);
    expect(gw.app.getHttpServer().listening).toBe(false);
    expect(await slow).toMatchObject({ ok: false });
    expect(gw.logs.some((l) => l.msg === 'Shutdown timeout reached: cancelling running ClickHouse queries')).toBe(true);
  });

  it('after the timeout, a running ClickHouse query is cancelled (and killed on the server); its request ends', async () => {
    const queryId = `ops-shutdown-${Date.now()}`;
    gw = await startOpsGateway([...CH_FLAGS, '--shutdown-timeout', '1'], {
      beforeListen: (app) =>
        app.getHttpAdapter().getInstance().get('/test/slow-query', (_req: unknown, res: { status(n: number): { json(b: unknown): void } }) => {
          const ch = app.get(ClickHouseService);
          ch.query(ch.currentConnection(), 'SELECT sleepEachRow(1) FROM numbers(20) SETTINGS max_block_size = 1', { queryId }).then(
            () => res.status(200).json({ finished: true }),
            (err: { kind?: string }) => res.status(503).json({ kind: err.kind }),
          );
        }),
    });
    const state = gw.app.get(ShutdownState);
    const slow = get(`${gw.base}/test/slow-query`);
    await waitUntil(async () => (await chQuery(`SELECT count() FROM system.processes WHERE query_id = '${queryId}'`)).trim() === '1', 5000, 50);
    expect(state.inFlightRequests).toBe(1);

    const started = Date.now();
    const report = await gw.app.get(GracefulShutdown).shutdown(gw.app, 'test');
    expect(report).toMatchObject({ drained: false, leftInFlight: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
    const res = await slow;
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ kind: 'cancelled' });
    await waitUntil(async () => (await chQuery(`SELECT count() FROM system.processes WHERE query_id = '${queryId}'`)).trim() === '0', 5000, 100);
  });

  it('SIGTERM/SIGINT handlers run the drain and exit 0', async () => {
    gw = await startOpsGateway(CH_FLAGS);
    const target = new EventEmitter();
    const exits: number[] = [];
    const logger = (await import('pino')).default({ level: 'silent' });
    const remove = installShutdownSignals(gw.app, logger, {
      target: target as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
      exit: (code) => exits.push(code),
    });
    target.emit('SIGTERM');
    expect(gw.app.get(ShutdownState).shuttingDown).toBe(true);
    await waitUntil(async () => exits.length > 0, 5000, 20);
    expect(exits).toEqual([0]);
    expect(gw.app.getHttpServer().listening).toBe(false);
    remove();
  });
});

function startOpsGatewayWithSlowRoute(flags: string[], slowMs: number): Promise<OpsGateway> {
  // Added before listen(): ahead of Nest's routes and 404 handler, behind the ops pipeline middleware.
  return startOpsGateway([...CH_FLAGS, ...flags], { beforeListen: (app) => addSlowRoute(app, '/test/slow', slowMs) });
}
