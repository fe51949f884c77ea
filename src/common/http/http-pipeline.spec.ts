import { BadRequestException, Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../config/config.cli.js';
import { loadConfig } from '../../config/config.loader.js';
import { ConfigModule } from '../../config/config.module.js';
import { createRootLogger } from '../logging/logger.js';
import { LoggingModule } from '../logging/logging.module.js';
import { ShutdownState } from '../shutdown/shutdown.state.js';
import { installHttpPipeline } from './http-pipeline.js';
import { HttpPipelineModule } from './http-pipeline.module.js';
import { RequestObservers } from './request-observers.js';
import type { CompletedRequest } from './request-log.middleware.js';

@Controller()
class ProbeController {
  @Get('ok/:token')
  ok(): { ok: boolean } {
    return { ok: true };
  }
  @Get('boom')
  boom(): never {
    throw new Error('password=hunter2 exploded at /secret/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl');
  }
  @Get('bad')
  bad(): never {
    throw new BadRequestException('query parameter is required');
  }
}

const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    cb();
  },
});

describe('HTTP pipeline (request id, access log, CORS, exception filter)', () => {
  let app: INestApplication;
  let base: string;
  const observed: CompletedRequest[] = [];

  beforeAll(async () => {
    const args = parseArgs(['--transport', 'http', '--cors-origin', 'https://app.example']);
    const boot = { input: { args, env: {} }, loaded: loadConfig({ args, env: {} }) };
    const logger = createRootLogger('info', sink);
    @Module({
      imports: [ConfigModule.forRoot(boot), LoggingModule.forRoot(logger), HttpPipelineModule],
      controllers: [ProbeController],
      providers: [ShutdownState],
    })
    class TestModule {}
    app = await NestFactory.create<NestExpressApplication>(TestModule, { logger: false, bodyParser: false });
    installHttpPipeline(app);
    app.get(RequestObservers).add((r) => observed.push(r));
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    base = base.replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('echoes a sane X-Request-Id and replaces a bad one', async () => {
    const kept = await fetch(`${base}/ok/abc`, { headers: { 'X-Request-Id': 'client-42' } });
    expect(kept.headers.get('x-request-id')).toBe('client-42');
    const replaced = await fetch(`${base}/ok/abc`, { headers: { 'X-Request-Id': 'x'.repeat(129) } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets Access-Control-Allow-Origin from server.cors_origin on every response, including errors', async () => {
    for (const path of ['/ok/abc', '/nope', '/boom']) {
      const res = await fetch(`${base}${path}`);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    }
  });

  it('answers any OPTIONS with 200 and the altinity-mcp preflight headers', async () => {
    const withHeaders = await fetch(`${base}/anything/at/all`, {
      method: 'OPTIONS',
      headers: { 'Access-Control-Request-Headers': 'Content-Type, Authorization' },
    });
    expect(withHeaders.status).toBe(200);
    expect(await withHeaders.text()).toBe('');
    expect(withHeaders.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(withHeaders.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization');
    expect(withHeaders.headers.get('access-control-max-age')).toBe('86400');
    expect(withHeaders.headers.get('vary')).toBe('Access-Control-Request-Headers');

    const without = await fetch(`${base}/ok/abc`, { method: 'OPTIONS' });
    expect(without.status).toBe(200);
    expect(without.headers.get('access-control-allow-headers')).toBe(
      'Content-Type, Authorization, X-Altinity-MCP-Key, Mcp-Protocol-Version, Mcp-Method, Referer, User-Agent',
    );
  });

  it('turns an unhandled error into a bare 500 JSON, logged once with redaction', async () => {
    lines.length = 0;
    const res = await fetch(`${base}/boom`, { headers: { 'X-Request-Id': 'req-boom' } });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: 'internal error', request_id: 'req-boom' });
    await new Promise((r) => setTimeout(r, 50));
    const errors = lines.filter((l) => l.msg === 'unhandled error');
    expect(errors).toHaveLength(1);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0');
    expect(errors[0]).toMatchObject({ request_id: 'req-boom', route: '/boom', level: 'error' });
    expect(errors[0]).not.toHaveProperty('stack');
  });

  it('keeps an HttpException status with a short JSON body', async () => {
    const res = await fetch(`${base}/bad`, { headers: { 'X-Request-Id': 'req-bad' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'query parameter is required', request_id: 'req-bad' });
  });

  it('answers unknown routes with a JSON 404 that does not echo the path', async () => {
    const res = await fetch(`${base}/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl/zzz`);
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error).toBe('not found');
    expect(JSON.stringify(body)).not.toContain('eyJ');
  });

  it('logs one access line per request with the route template, redacted path and no query string', async () => {
    lines.length = 0;
    observed.length = 0;
    await fetch(`${base}/ok/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl?password=hunter2&q=1`, { headers: { 'X-Request-Id': 'req-log' } });
    await new Promise((r) => setTimeout(r, 50));
    const access = lines.filter((l) => l.msg === 'request completed');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ level: 'info', method: 'GET', route: '/ok/:token', status: 200, request_id: 'req-log', context: 'http' });
    expect(typeof access[0]!.duration_ms).toBe('number');
    expect(String(access[0]!.path)).not.toContain('eyJ');
    expect(JSON.stringify(access[0])).not.toContain('hunter2');
    expect(JSON.stringify(access[0])).not.toContain('q=1');
    expect(observed).toEqual([expect.objectContaining({ method: 'GET', route: '/ok/:token', status: 200, requestId: 'req-log' })]);
  });

  it('labels unknown routes unmatched', async () => {
    observed.length = 0;
    await fetch(`${base}/no/such/route`);
    await new Promise((r) => setTimeout(r, 20));
    expect(observed[0]).toMatchObject({ route: 'unmatched', status: 404 });
  });
});
