import type { ExecutionContext } from '@nestjs/common';
import { Controller } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { describe, expect, it, vi } from 'vitest';
import { getRequestContext } from '../../common/request-context.js';
import { initRequestMeta, loggablePath, routeTemplateOf } from '../../common/http/request-meta.js';
import type { ConfigStore } from '../../config/config.store.js';
import type { MetricsService } from '../../metrics/metrics.service.js';
import { AuthenticatedSurface, jweHandoffOf, mcpMountOf } from '../auth-surface.js';
import { JweAuthenticator, type JweAuthResult } from './jwe-authenticator.js';
import { JweGuard } from './jwe.guard.js';

@Controller()
@AuthenticatedSurface('mcp')
class FakeMcpController {
  handle(): void {}
}

@Controller()
@AuthenticatedSurface('openapi')
class FakeOpenApiController {
  handle(): void {}
}

@Controller()
class FakeHealthController {
  handle(): void {}
}

/** A test double of the core: `good` and `incomplete` are the only tokens it knows. */
class FakeAuthenticator extends JweAuthenticator {
  readonly seen: string[] = [];
  async authenticate(token: string): Promise<JweAuthResult> {
    this.seen.push(token);
    if (token === 'good') {
      return { ok: true, identity: { kind: 'jwe', cacheKey: 'tok:abc', subject: 'alice' }, connection: { host: 'ch', username: 'alice' } };
    }
    if (token === 'incomplete') return { ok: false, outcome: 'missing_claim', message: 'jwe: token must carry host and username claims' };
    if (token === 'throws') throw new Error('boom');
    return { ok: false, outcome: 'bad_signature', message: 'invalid JWE token' };
  }
}

interface FakeResponse {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
  headersSent: boolean;
  setHeader(k: string, v: string | number): void;
  getHeader(k: string): string | undefined;
  end(body: string): void;
}

function fakeResponse(): FakeResponse {
  const res: FakeResponse = {
    statusCode: 200,
    headers: {},
    headersSent: false,
    setHeader(k, v) {
      this.headers[k.toLowerCase()] = String(v);
    },
    getHeader(k) {
      return this.headers[k.toLowerCase()];
    },
    end(body) {
      this.body = body;
      this.headersSent = true;
    },
  };
  return res;
}

function setup(opts: { enabled?: boolean; transport?: 'http' | 'sse'; oauth?: boolean } = {}) {
  const authenticator = new FakeAuthenticator();
  const recorded: string[] = [];
  const metrics = { recordJweAuth: vi.fn((o: string) => recorded.push(o)) } as unknown as MetricsService;
  const config = {
    boot: { server: { jwe: { enabled: opts.enabled ?? true }, oauth: { enabled: opts.oauth ?? false }, transport: opts.transport ?? 'http' } },
  } as unknown as ConfigStore;
  const guard = new JweGuard(new Reflector(), config, authenticator, metrics);
  const run = async (controller: new () => { handle(): void }, req: { path: string; headers?: Record<string, string>; params?: Record<string, string> }) => {
    const request = { headers: {}, ...req } as Record<string, unknown>;
    initRequestMeta(request as never, 'req-1');
    const res = fakeResponse();
    const context = {
      getType: () => 'http',
      getHandler: () => controller.prototype.handle,
      getClass: () => controller,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => res }),
    } as unknown as ExecutionContext;
    let allowed: boolean | undefined;
    let thrown: unknown;
    try {
      allowed = await guard.canActivate(context);
    } catch (err) {
      thrown = err;
    }
    return { allowed, thrown, res, req: request };
  };
  return { run, authenticator, recorded };
}

describe('JweGuard', () => {
  it('does nothing when JWE is off: no authentication, no context', async () => {
    const { run, authenticator } = setup({ enabled: false });
    const { allowed, req } = await run(FakeMcpController, { path: '/anything/at/all' });
    expect(allowed).toBe(true);
    expect(authenticator.seen).toEqual([]);
    expect(getRequestContext(req as never)).toBeUndefined();
  });

  it('leaves routes that are no authenticated surface alone (health, metrics, the generator)', async () => {
    const { run, authenticator } = setup();
    expect((await run(FakeHealthController, { path: '/health' })).allowed).toBe(true);
    expect(authenticator.seen).toEqual([]);
  });

  it('an accepted path token fills the context, the mount and the route label; the controller never sees the token', async () => {
    const { run, recorded } = setup();
    const { allowed, req } = await run(FakeMcpController, { path: '/good' });
    expect(allowed).toBe(true);
    const ctx = getRequestContext(req as never)!;
    expect(ctx.identity).toEqual({ kind: 'jwe', cacheKey: 'tok:abc', subject: 'alice' });
    expect(ctx.clickhouse).toEqual({ host: 'ch', username: 'alice' });
    expect(ctx.requestId).toBe('req-1');
    expect(mcpMountOf(req as never)).toEqual({ prefix: '/good' });
    expect(routeTemplateOf(req as never)).toBe('/{token}');
    expect(loggablePath(req as never)).toBe('/{token}');
    expect(recorded).toEqual(['ok']);
  });

  it('no token: 401 `missing JWE token` with a challenge, before anything else runs', async () => {
    const { run, authenticator, recorded } = setup();
    const { allowed, thrown, res } = await run(FakeMcpController, { path: '/' });
    expect(allowed).toBeUndefined();
    expect(thrown).toBeDefined();
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="clickhouse-mcp-gateway"');
    expect(JSON.parse(res.body!)).toEqual({ jsonrpc: '2.0', error: { code: -32001, message: 'Unauthorized: missing JWE token' }, id: null });
    expect(authenticator.seen).toEqual([]);
    expect(recorded).toEqual(['missing_token']);
  });

  it('a refused token: 401 with the core message and error="invalid_token"; the token is never echoed', async () => {
    const { run, recorded } = setup();
    const { res } = await run(FakeMcpController, { path: '/bad-secret-token' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.body).toContain('invalid JWE token');
    expect(res.body).not.toContain('bad-secret-token');
    expect(recorded).toEqual(['bad_signature']);
  });

  it('a core that throws still yields 401 (never 500), counted as malformed', async () => {
    const { run, recorded } = setup();
    const { res } = await run(FakeMcpController, { path: '/throws' });
    expect(res.statusCode).toBe(401);
    expect(recorded).toEqual(['malformed']);
  });

  it('an oversized candidate is refused without decrypting', async () => {
    const { run, authenticator, recorded } = setup();
    const { res } = await run(FakeMcpController, { path: '/', headers: { 'x-altinity-mcp-key': 'a'.repeat(16 * 1024 + 1) } });
    expect(res.statusCode).toBe(401);
    expect(authenticator.seen).toEqual([]);
    expect(recorded).toEqual(['malformed']);
  });

  it('header tokens work on the pathless route; the path value wins over headers', async () => {
    const { run, authenticator } = setup();
    expect((await run(FakeMcpController, { path: '/', headers: { authorization: 'Bearer good' } })).allowed).toBe(true);
    expect((await run(FakeMcpController, { path: '/good', headers: { 'x-altinity-mcp-key': 'other' } })).allowed).toBe(true);
    expect(authenticator.seen).toEqual(['good', 'good']);
  });

  it('paths that are no MCP route in JWE mode are 404 without authentication', async () => {
    const { run, authenticator } = setup();
    const { res } = await run(FakeMcpController, { path: '/a/b/c' });
    expect(res.statusCode).toBe(404);
    expect(authenticator.seen).toEqual([]);
  });

  it('SSE: /{token}/sse is the route; the mount prefix carries the path as sent', async () => {
    const { run } = setup({ transport: 'sse' });
    const { allowed, req } = await run(FakeMcpController, { path: '/good/sse' });
    expect(allowed).toBe(true);
    expect(mcpMountOf(req as never)).toEqual({ prefix: '/good' });
    expect(routeTemplateOf(req as never)).toBe('/{token}/sse');
    expect((await run(FakeMcpController, { path: '/good' })).res.statusCode).toBe(404);
  });

  it('OpenAPI answers with upstream texts (text/plain)', async () => {
    const { run } = setup();
    const missing = await run(FakeOpenApiController, { path: '/openapi' });
    expect(missing.res.statusCode).toBe(401);
    expect(missing.res.body).toBe('Missing authentication token\n');
    expect(missing.res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const invalid = await run(FakeOpenApiController, { path: '/x/openapi', params: { token: 'x' } });
    expect(invalid.res.body).toBe('Invalid authentication token\n');
    const incomplete = await run(FakeOpenApiController, { path: '/openapi/execute_query', headers: { 'x-altinity-mcp-key': 'incomplete' } });
    expect(incomplete.res.body).toBe('jwe: token must carry host and username claims\n');
    const ok = await run(FakeOpenApiController, { path: '/good/openapi/execute_query', params: { token: 'good' } });
    expect(ok.allowed).toBe(true);
    expect(getRequestContext(ok.req as never)?.identity.cacheKey).toBe('tok:abc');
  });

  describe('with OAuth on as well: never answers, hands its finding to the OAuth guard', () => {
    it('path token, then x-altinity-mcp-key; the Authorization header is not read as a JWE', async () => {
      const { run, authenticator } = setup({ oauth: true });
      const bearerOnly = await run(FakeMcpController, { path: '/', headers: { authorization: 'Bearer good' } });
      expect(bearerOnly.allowed).toBe(true);
      expect(jweHandoffOf(bearerOnly.req as never)).toEqual({ state: 'absent' });
      expect(getRequestContext(bearerOnly.req as never)).toBeUndefined();
      const header = await run(FakeMcpController, { path: '/', headers: { 'x-altinity-mcp-key': 'good', authorization: 'Bearer bad' } });
      expect(jweHandoffOf(header.req as never)).toEqual({ state: 'complete' });
      expect(getRequestContext(header.req as never)?.identity.kind).toBe('jwe');
      expect(authenticator.seen).toEqual(['good']);
    });

    it('complete, partial and malformed tokens become hand-offs, not answers', async () => {
      const { run, recorded } = setup({ oauth: true });
      const partial = await run(FakeMcpController, { path: '/incomplete' });
      expect([partial.allowed, partial.res.headersSent]).toEqual([true, false]);
      expect(jweHandoffOf(partial.req as never)).toEqual({ state: 'partial' });
      expect(getRequestContext(partial.req as never)).toBeUndefined();
      const bad = await run(FakeOpenApiController, { path: '/x/openapi', params: { token: 'forged' } });
      expect([bad.allowed, bad.res.headersSent]).toEqual([true, false]);
      expect(jweHandoffOf(bad.req as never)).toEqual({ state: 'malformed', message: 'invalid JWE token', outcome: 'bad_signature' });
      const good = await run(FakeMcpController, { path: '/good' });
      expect(jweHandoffOf(good.req as never)).toEqual({ state: 'complete' });
      expect(mcpMountOf(good.req as never)).toEqual({ prefix: '/good' });
      expect(recorded).toEqual(['missing_claim', 'bad_signature', 'ok']);
    });

    it('an MCP path that is not /{token} is still not found', async () => {
      const { run } = setup({ oauth: true });
      const { res } = await run(FakeMcpController, { path: '/a/b' });
      expect(res.statusCode).toBe(404);
    });
  });
});
