import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CanActivate, type ExecutionContext, HttpException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { jsonRpcErrorBody } from '../../common/http/json-rpc-error-body.js';
import { getRequestId, markSecretPath, setRouteTemplate } from '../../common/http/request-meta.js';
import { setRequestContext } from '../../common/request-context.js';
import { ConfigStore } from '../../config/config.store.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { authenticatedRequest, setJweHandoff, setMcpMount } from '../auth-surface.js';
import { JweAuthenticator, type JweAuthResult } from './jwe-authenticator.js';
import { INVALID_JWE_TOKEN, MISSING_JWE_TOKEN } from './jwe-token.js';
import { classifyJweMcpPath, combinedModeJweToken, MAX_JWE_TOKEN_LENGTH, requestJweToken, stripOneTrailingSlash } from './jwe-request-token.js';

/** OpenAPI texts, as upstream's `http.Error` writes them (auth spec §1.5). */
export const OPENAPI_MISSING_TOKEN = 'Missing authentication token';
export const OPENAPI_INVALID_TOKEN = 'Invalid authentication token';

/**
 * RFC 7235 requires a challenge with every 401; RFC 6750's `invalid_token` says a token was sent and refused
 * (a missing one gets the bare scheme). The description is fixed text, never the token or the claims.
 */
const CHALLENGE_MISSING = 'Bearer realm="clickhouse-mcp-gateway"';
const CHALLENGE_INVALID = 'Bearer realm="clickhouse-mcp-gateway", error="invalid_token"';

type Refusal = Extract<JweAuthResult, { ok: false }>;

/** Stops the route after the guard has written its answer (the exception filter sees `headersSent`). */
class AnsweredByGuard extends HttpException {
  constructor(status: number) {
    super('answered by the JWE guard', status);
  }
}

/**
 * JWE-only mode, fail closed (safer than altinity-mcp, which let a bad token through to a tool error): every
 * request to an authenticated surface (MCP transport, OpenAPI) must carry a token that the core accepts, or it
 * gets HTTP 401 before any MCP work or ClickHouse I/O. An accepted token becomes the request context (the
 * caller identity and the token's own, self-contained connection); controllers read only that.
 *
 * Registered as a global guard ahead of the rate limiter, so one token is one rate-limit budget. With JWE off
 * (boot value; `server.jwe.enabled` is restart-only) it lets everything through untouched.
 *
 * With OAuth on as well (auth spec §1.5(2)) it reads the JWE only from the `{token}` path and
 * `x-altinity-mcp-key` (the Authorization header belongs to OAuth), never answers itself, and hands its
 * finding to the OAuth guard that runs next: a complete token is the request's connection; a partial one, or
 * none, needs a bearer; a bad one is refused there with the OAuth challenge, bearer or not.
 */
@Injectable()
export class JweGuard implements CanActivate {
  private readonly enabled: boolean;
  /** `server.transport` is restart-only: the boot value decides which MCP paths exist. */
  private readonly transport: 'http' | 'sse';
  /** JWE + OAuth: defer to the OAuth guard instead of refusing (both switches are restart-only). */
  private readonly withOAuth: boolean;

  constructor(
    private readonly reflector: Reflector,
    config: ConfigStore,
    private readonly authenticator: JweAuthenticator,
    private readonly metrics: MetricsService,
  ) {
    this.enabled = config.boot.server.jwe.enabled;
    this.transport = config.boot.server.transport === 'sse' ? 'sse' : 'http';
    this.withOAuth = config.boot.server.oauth?.enabled === true;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const target = this.enabled ? authenticatedRequest(this.reflector, context) : undefined;
    if (!target) return true;
    const { surface, req, res } = target;
    // In JWE mode any path of these surfaces may hold a token, whole or cut: logs show the route template.
    markSecretPath(req);
    return surface === 'mcp' ? this.authenticateMcp(req, res) : this.authenticateOpenApi(req, res);
  }

  private async authenticateMcp(req: Request, res: ServerResponse): Promise<boolean> {
    const transport = this.transport;
    const route = classifyJweMcpPath(req.path, transport);
    setRouteTemplate(req, route.template);
    if (!route.found) {
      return this.refuse(res, 404, 'application/json', jsonRpcErrorBody(-32000, 'Not Found: with JWE authentication the MCP endpoint is /{token}' + (transport === 'sse' ? '/sse' : '')));
    }
    if (this.withOAuth) {
      setMcpMount(req, { prefix: route.prefix });
      return this.handOff(req, res, combinedModeJweToken(req.headers, route.pathToken));
    }
    const token = requestJweToken(req.headers, route.pathToken);
    const verdict = await this.verify(token);
    if (!verdict.ok) {
      const message = verdict.outcome === 'missing_token' ? MISSING_JWE_TOKEN : verdict.message;
      return this.refuse(res, 401, 'application/json', jsonRpcErrorBody(-32001, `Unauthorized: ${message}`), verdict.outcome !== 'missing_token');
    }
    this.fill(req, res, verdict.result);
    setMcpMount(req, { prefix: route.prefix });
    return true;
  }

  private async authenticateOpenApi(req: Request, res: ServerResponse): Promise<boolean> {
    const params = req.params as Record<string, string | undefined> | undefined;
    if (this.withOAuth) return this.handOff(req, res, combinedModeJweToken(req.headers, params?.token || undefined));
    const token = requestJweToken(req.headers, params?.token || undefined, stripOneTrailingSlash(req.path));
    const verdict = await this.verify(token);
    if (!verdict.ok) {
      const text =
        verdict.outcome === 'missing_token'
          ? OPENAPI_MISSING_TOKEN
          : verdict.outcome === 'missing_claim' || verdict.outcome === 'invalid_claim'
            ? verdict.message
            : OPENAPI_INVALID_TOKEN;
      return this.refuse(res, 401, 'text/plain; charset=utf-8', `${text}\n`, verdict.outcome !== 'missing_token');
    }
    this.fill(req, res, verdict.result);
    return true;
  }

  /** JWE + OAuth: record what the token is worth for the OAuth guard; a complete token becomes the context. */
  private async handOff(req: Request, res: ServerResponse, token: string | undefined): Promise<true> {
    if (token === undefined) {
      // No JWE is not an outcome of JWE authentication here: the caller is expected to bring a bearer.
      setJweHandoff(req, { state: 'absent' });
      return true;
    }
    const verdict = await this.verify(token);
    if (verdict.ok) {
      this.fill(req, res, verdict.result);
      setJweHandoff(req, { state: 'complete' });
    } else if (verdict.outcome === 'missing_claim') {
      // Decrypted but without host or username: every claim is ignored, the bearer decides (upstream §C.1).
      setJweHandoff(req, { state: 'partial' });
    } else {
      setJweHandoff(req, { state: 'malformed', message: verdict.message, outcome: verdict.outcome });
    }
    return true;
  }

  /** The core's verdict, counted once by outcome; an oversized candidate is refused without decrypting it. */
  private async verify(
    token: string | undefined,
  ): Promise<{ ok: true; result: Extract<JweAuthResult, { ok: true }> } | (Omit<Refusal, 'outcome'> & { outcome: Refusal['outcome'] | 'missing_token' })> {
    if (token === undefined) {
      this.metrics.recordJweAuth('missing_token');
      return { ok: false, outcome: 'missing_token', message: MISSING_JWE_TOKEN };
    }
    let result: JweAuthResult;
    if (token.length > MAX_JWE_TOKEN_LENGTH) {
      result = { ok: false, outcome: 'malformed', message: INVALID_JWE_TOKEN };
    } else {
      try {
        result = await this.authenticator.authenticate(token);
      } catch {
        // The contract says it never throws for a bad token; if it does, the caller still gets a 401, not a 500.
        result = { ok: false, outcome: 'malformed', message: INVALID_JWE_TOKEN };
      }
    }
    this.metrics.recordJweAuth(result.ok ? 'ok' : result.outcome);
    return result.ok ? { ok: true, result } : result;
  }

  private fill(req: Request, res: ServerResponse, result: Extract<JweAuthResult, { ok: true }>): void {
    setRequestContext(req, {
      requestId: getRequestId(req as IncomingMessage) ?? String(res.getHeader('x-request-id') ?? randomUUID()),
      identity: result.identity,
      clickhouse: result.connection,
    });
  }

  private refuse(res: ServerResponse, status: number, contentType: string, body: string, tokenSent = false): never {
    if (!res.headersSent) {
      res.statusCode = status;
      res.setHeader('Content-Type', contentType);
      if (contentType.startsWith('text/plain')) res.setHeader('X-Content-Type-Options', 'nosniff');
      if (status === 401) res.setHeader('WWW-Authenticate', tokenSent ? CHALLENGE_INVALID : CHALLENGE_MISSING);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    }
    throw new AnsweredByGuard(status);
  }
}
