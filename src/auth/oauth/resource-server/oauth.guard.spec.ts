import type { ExecutionContext } from '@nestjs/common';
import { Controller } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { describe, expect, it, vi } from 'vitest';
import { getRequestContext } from '../../../common/request-context.js';
import type { ConfigStore } from '../../../config/config.store.js';
import type { MetricsService } from '../../../metrics/metrics.service.js';
import { AuthenticatedSurface, type JweHandoff, setJweHandoff } from '../../auth-surface.js';
import type { ClickHouseIdentity } from '../clickhouse-identity/clickhouse-identity.js';
import { OAuthGuard } from './oauth.guard.js';
import type { AcceptedBearer } from '../oauth-bearer.js';
import { oauthIdentity, tokenDigest, type OAuthResourceServer, type ResourceServerVerdict } from './oauth-resource-server.service.js';

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
class FakePrmController {
  handle(): void {}
}

const METADATA = 'https://mcp.example.com/.well-known/oauth-protected-resource';
const GOOD = 'header.payload-of-a-good-token.signature';

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
  return {
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
}

interface Setup {
  enabled?: boolean;
  jwe?: boolean;
  verdict?: ResourceServerVerdict;
  identity?: ClickHouseIdentity;
}

function setup(opts: Setup = {}) {
  const outcomes: string[] = [];
  const metrics = { recordOAuthAuth: vi.fn((o: string) => outcomes.push(o)) } as unknown as MetricsService;
  const config = { boot: { server: { oauth: { enabled: opts.enabled ?? true }, jwe: { enabled: opts.jwe ?? false } } } } as unknown as ConfigStore;
  const verify = vi.fn(
    async (): Promise<ResourceServerVerdict> =>
      opts.verdict ?? { ok: true, kind: 'jwt', clickhouseToken: GOOD, claims: { sub: 'alice' }, scopes: ['openid'], subject: 'alice' },
  );
  const identity = vi.fn(
    async (): Promise<ClickHouseIdentity> =>
      opts.identity ?? { ok: true, method: 'basic', probed: false, overrides: { username: 'alice@example.com', password: GOOD, bearerToken: '' } },
  );
  const resourceServer = {
    oauth: { required_scopes: [], scopes: ['openid', 'email'] },
    resourceMetadataUrl: () => METADATA,
    verify,
    identity,
    callerIdentity: (token: string, accepted: AcceptedBearer) => oauthIdentity(tokenDigest(token), accepted),
  } as unknown as OAuthResourceServer;
  const guard = new OAuthGuard(new Reflector(), config, resourceServer, metrics);
  const run = async (
    controller: new () => { handle(): void },
    req: { headers?: Record<string, string>; handoff?: JweHandoff } = {},
  ) => {
    const request = { headers: {}, path: '/', ...req } as Record<string, unknown>;
    if (req.handoff) setJweHandoff(request as never, req.handoff);
    const res = fakeResponse();
    const ctx = {
      getType: () => 'http',
      getHandler: () => controller.prototype.handle,
      getClass: () => controller,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => res }),
    } as unknown as ExecutionContext;
    let allowed: boolean | undefined;
    let thrown: unknown;
    try {
      allowed = await guard.canActivate(ctx);
    } catch (err) {
      thrown = err;
    }
    return { allowed, thrown, res, request, context: getRequestContext(request as never) };
  };
  return { run, outcomes, verify, identity };
}

const EXACT = `Bearer error="invalid_token", error_description="Authentication required", resource_metadata="${METADATA}", scope="openid email"`;

describe('OAuthGuard', () => {
  it('does nothing with OAuth off, or on routes that are no authenticated surface (PRM, health)', async () => {
    const off = setup({ enabled: false });
    expect((await off.run(FakeMcpController)).allowed).toBe(true);
    const on = setup();
    expect((await on.run(FakePrmController)).allowed).toBe(true);
    expect(on.verify).not.toHaveBeenCalled();
    expect(on.outcomes).toEqual([]);
  });

  it.each([
    ['no Authorization', {}],
    ['Bearer with nothing after it', { authorization: 'Bearer ' }],
    ['lower-case scheme (the prefix is case-sensitive)', { authorization: 'bearer abc' }],
    ['Basic credentials', { authorization: 'Basic YWxpY2U6c2VjcmV0' }],
    ['scheme without a space', { authorization: 'Bearerabc' }],
  ])('%s → 401 with the exact challenge and a JSON body', async (_name, headers) => {
    const { run, outcomes, verify } = setup();
    const { res, thrown } = await run(FakeMcpController, { headers });
    expect(thrown).toBeDefined();
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe(EXACT);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body!)).toEqual({ error: 'invalid_token', error_description: 'Authentication required' });
    expect(outcomes).toEqual(['missing']);
    expect(verify).not.toHaveBeenCalled();
  });

  it('a verified bearer becomes the request context: oauth identity keyed by a hash, the resolver\'s overrides', async () => {
    const { run, outcomes } = setup();
    const { allowed, context } = await run(FakeMcpController, { headers: { authorization: `Bearer ${GOOD}` } });
    expect(allowed).toBe(true);
    expect(context?.identity.kind).toBe('oauth');
    expect(context?.identity.subject).toBe('alice');
    expect(context?.identity.cacheKey).toMatch(/^oauth:[A-Za-z0-9_-]{32}$/);
    expect(context?.identity.cacheKey).not.toContain(GOOD);
    expect(context?.clickhouse).toEqual({ username: 'alice@example.com', password: GOOD, bearerToken: '' });
    expect(outcomes).toEqual(['ok']);
  });

  it('two tokens get two cache keys; the same token the same key', async () => {
    const { run } = setup();
    const a = await run(FakeMcpController, { headers: { authorization: 'Bearer token-a' } });
    const b = await run(FakeMcpController, { headers: { authorization: 'Bearer token-b' } });
    const a2 = await run(FakeMcpController, { headers: { authorization: 'Bearer token-a' } });
    expect(a.context?.identity.cacheKey).not.toBe(b.context?.identity.cacheKey);
    expect(a.context?.identity.cacheKey).toBe(a2.context?.identity.cacheKey);
  });

  it.each([
    ['expired', 401, 'OAuth token expired', 'OAuth token expired'],
    ['bad_signature', 401, 'OAuth token signature is invalid', 'Invalid OAuth token'],
    ['wrong_audience', 401, 'OAuth token was not issued for this server (audience mismatch)', 'Invalid OAuth token'],
    ['opaque', 401, 'OAuth token is not a JWT; this server only accepts signed JWT access tokens', 'Invalid OAuth token'],
    ['insufficient_scope', 403, 'Insufficient OAuth scopes', 'Insufficient OAuth scopes'],
  ] as const)('verdict %s → %i (JSON on MCP, Go text on OpenAPI)', async (reason, status, description, text) => {
    const mcp = await setup({ verdict: { ok: false, reason } }).run(FakeMcpController, { headers: { authorization: 'Bearer x' } });
    expect(mcp.res.statusCode).toBe(status);
    expect(JSON.parse(mcp.res.body!)).toEqual({ error: status === 403 ? 'insufficient_scope' : 'invalid_token', error_description: description });
    expect(mcp.res.headers['www-authenticate']).toContain(`error="${status === 403 ? 'insufficient_scope' : 'invalid_token'}"`);
    const openapi = await setup({ verdict: { ok: false, reason } }).run(FakeOpenApiController, { headers: { authorization: 'Bearer x' } });
    expect(openapi.res.statusCode).toBe(status);
    expect(openapi.res.body).toBe(`${text}\n`);
    expect(openapi.res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(openapi.res.headers['www-authenticate']).toContain('resource_metadata=');
  });

  it('keys_unavailable → 503 without a challenge (the token may be fine)', async () => {
    const { res } = await setup({ verdict: { ok: false, reason: 'keys_unavailable' } }).run(FakeMcpController, { headers: { authorization: 'Bearer x' } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(JSON.parse(res.body!).error).toBe('temporarily_unavailable');
  });

  it('misconfigured (broker tokens without the broker) → 503 server_error, counted', async () => {
    const { run, outcomes } = setup({ verdict: { ok: false, reason: 'misconfigured', message: 'OAuth broker tokens cannot be verified' } });
    const { res } = await run(FakeMcpController, { headers: { authorization: 'Bearer x' } });
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!)).toEqual({ error: 'server_error', error_description: 'OAuth broker tokens cannot be verified' });
    expect(outcomes).toEqual(['misconfigured']);
  });

  it.each([
    ['access_denied', 403, 'access_denied', undefined],
    ['unusable_token', 401, 'invalid_token', 'error="invalid_token"'],
    ['connection_failed', 502, 'clickhouse_unavailable', undefined],
    ['misconfigured', 503, 'server_error', undefined],
  ] as const)('identity failure %s → %i %s, no stack, no token', async (reason, status, error, challenge) => {
    const { run, outcomes } = setup({ identity: { ok: false, reason, error: `problem: ${reason}` } });
    const { res } = await run(FakeMcpController, { headers: { authorization: `Bearer ${GOOD}` } });
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body!)).toEqual({ error, error_description: `problem: ${reason}` });
    if (challenge) expect(res.headers['www-authenticate']).toContain(challenge);
    else expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body).not.toContain(GOOD);
    expect(outcomes).toEqual([reason === 'connection_failed' ? 'clickhouse_unavailable' : reason]);
  });

  describe('JWE + OAuth hand-off', () => {
    it('a complete JWE: no bearer needed, and a bearer present is not even verified', async () => {
      const { run, verify, outcomes } = setup({ jwe: true });
      expect((await run(FakeMcpController, { handoff: { state: 'complete' } })).allowed).toBe(true);
      expect((await run(FakeMcpController, { handoff: { state: 'complete' }, headers: { authorization: 'Bearer x' } })).allowed).toBe(true);
      expect(verify).not.toHaveBeenCalled();
      expect(outcomes).toEqual(['jwe', 'jwe']);
    });

    it('a partial JWE needs a bearer: 401 challenge without; OAuth with one', async () => {
      const { run } = setup({ jwe: true });
      const without = await run(FakeMcpController, { handoff: { state: 'partial' } });
      expect(without.res.statusCode).toBe(401);
      expect(without.res.headers['www-authenticate']).toBe(EXACT);
      const openapi = await run(FakeOpenApiController, { handoff: { state: 'partial' } });
      expect(openapi.res.body).toBe('jwe: token must carry host and username claims\n');
      const withBearer = await run(FakeMcpController, { handoff: { state: 'partial' }, headers: { authorization: `Bearer ${GOOD}` } });
      expect(withBearer.allowed).toBe(true);
      expect(withBearer.context?.identity.kind).toBe('oauth');
    });

    it('a malformed JWE is refused even with a good bearer (no downgrade by adding one)', async () => {
      const { run, verify, outcomes } = setup({ jwe: true });
      const handoff: JweHandoff = { state: 'malformed', message: 'invalid JWE token', outcome: 'bad_signature' };
      const mcp = await run(FakeMcpController, { handoff, headers: { authorization: `Bearer ${GOOD}` } });
      expect(mcp.res.statusCode).toBe(401);
      expect(mcp.res.headers['www-authenticate']).toBe(EXACT);
      const openapi = await run(FakeOpenApiController, { handoff, headers: { authorization: `Bearer ${GOOD}` } });
      expect(openapi.res.body).toBe('Invalid authentication token\n');
      const claim = await run(FakeOpenApiController, { handoff: { state: 'malformed', message: 'jwe: invalid TLS material path', outcome: 'invalid_claim' } });
      expect(claim.res.body).toBe('jwe: invalid TLS material path\n');
      expect(verify).not.toHaveBeenCalled();
      expect(outcomes).toEqual(['invalid_jwe', 'invalid_jwe', 'invalid_jwe']);
    });
  });
});
