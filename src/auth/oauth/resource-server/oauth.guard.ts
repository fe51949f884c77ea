import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CanActivate, type ExecutionContext, HttpException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { getRequestId, markSecretPath } from '../../../common/http/request-meta.js';
import { setRequestContext } from '../../../common/request-context.js';
import { clusterResolutionOf, writeGoNotFound } from '../../../clusters/cluster-resolution.js';
import { ConfigStore } from '../../../config/config.store.js';
import { MetricsService, type OAuthAuthOutcome } from '../../../metrics/metrics.service.js';
import { type AuthSurface, authenticatedRequest, jweHandoffOf } from '../../auth-surface.js';
import type { ClickHouseIdentity } from '../clickhouse-identity/clickhouse-identity.js';
import { chooseCredentialSource, INCOMPLETE_JWE_TOKEN } from '../clickhouse-identity/credential-source.js';
import type { BearerFailureReason } from './bearer-verifier.js';
import { authFailureResponse, bearerChallenge, challengeScopeHint, describeBearerFailure } from './protected-resource.js';
import { bearerOf, OAuthResourceServer } from './oauth-resource-server.service.js';

/** OpenAPI texts, as altinity-mcp's `http.Error` writes them (auth spec §1.5(3)). */
export const OPENAPI_MISSING_TOKEN = 'Missing authentication token';
export const OPENAPI_INVALID_JWE = 'Invalid authentication token';
export const OPENAPI_EXPIRED = 'OAuth token expired';
export const OPENAPI_INSUFFICIENT_SCOPE = 'Insufficient OAuth scopes';
export const OPENAPI_INVALID_TOKEN = 'Invalid OAuth token';

/** Stops the route after the guard has written its answer (the exception filter sees `headersSent`). */
class AnsweredByGuard extends HttpException {
  constructor(status: number) {
    super('answered by the OAuth guard', status);
  }
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  /** JSON for the MCP transport (`{error, error_description}`), text for OpenAPI. */
  json: { error: string; error_description: string };
  text: string;
}

/**
 * OAuth resource server, fail closed (issue 17 item 2). altinity-mcp lets any bearer with an unexpired (unverified)
 * `exp` through to ClickHouse; here every request to an authenticated surface (MCP transport, OpenAPI — Go takes
 * bearers on both) needs a bearer that verifies (signature, `iss`, `aud`, time, scopes) and a ClickHouse identity
 * before any MCP work. Refusals carry altinity-mcp's challenge (`resource_metadata=`, `scope=`), so clients find
 * the PRM document and their authorization server.
 *
 * With JWE on as well, the JWE guard runs first and hands over what it found (§1.5(2), upstream §C.1): a complete
 * JWE is the connection (no bearer needed); a partial one or none needs a bearer; a bad one is refused here with the
 * challenge, bearer or not. Registered after the JWE guard and before the rate limiter, so a caller's budget is
 * keyed by the verified identity. With OAuth off (boot value; restart-only) it lets everything through.
 */
@Injectable()
export class OAuthGuard implements CanActivate {
  private readonly enabled: boolean;
  private readonly jweEnabled: boolean;
  /** `multicluster.enabled` is restart-only. */
  private readonly multicluster: boolean;

  constructor(
    private readonly reflector: Reflector,
    config: ConfigStore,
    private readonly resourceServer: OAuthResourceServer,
    private readonly metrics: MetricsService,
  ) {
    this.enabled = config.boot.server.oauth.enabled;
    this.jweEnabled = config.boot.server.jwe.enabled;
    this.multicluster = config.boot.multicluster?.enabled === true;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const target = this.enabled ? authenticatedRequest(this.reflector, context) : undefined;
    if (!target) return true;
    const { surface, req, res } = target;

    const handoff = jweHandoffOf(req);
    const token = bearerOf(req);
    const source = chooseCredentialSource({
      jweEnabled: this.jweEnabled,
      oauthEnabled: true,
      jwe: handoff.state,
      hasBearer: token !== undefined,
    });
    if (source.use === 'jwe') {
      this.metrics.recordOAuthAuth('jwe');
      return true;
    }
    if (source.use !== 'oauth' || token === undefined) {
      if (handoff.state === 'malformed') {
        this.metrics.recordOAuthAuth('invalid_jwe');
        // Go answers a bad JWE with the plain "Authentication required" challenge on the transport, and
        // "Invalid authentication token" (or the claim problem) on OpenAPI.
        const openApiText = handoff.outcome === 'invalid_claim' ? handoff.message : OPENAPI_INVALID_JWE;
        return this.refuse(res, surface, { ...this.failure(req, 'missing'), text: openApiText });
      }
      this.metrics.recordOAuthAuth('missing');
      const openApiText = handoff.state === 'partial' ? INCOMPLETE_JWE_TOKEN : OPENAPI_MISSING_TOKEN;
      return this.refuse(res, surface, { ...this.failure(req, 'missing'), text: openApiText });
    }

    const cluster = clusterResolutionOf(req);
    if (this.multicluster && surface === 'mcp' && cluster === undefined) {
      // Defence in depth: in multicluster mode every MCP request was resolved to a cluster by the routing
      // middleware; one that was not must not be authenticated (or probed) against the base configuration.
      writeGoNotFound(res);
      throw new AnsweredByGuard(404);
    }
    const verdict = await this.resourceServer.verify(token, req);
    if (!verdict.ok) {
      if (verdict.reason === 'misconfigured') {
        this.metrics.recordOAuthAuth('misconfigured');
        return this.refuse(res, surface, serverProblem(503, 'server_error', verdict.message));
      }
      this.metrics.recordOAuthAuth(verdict.reason);
      return this.refuse(res, surface, this.failure(req, verdict.reason));
    }

    if (cluster?.kind === 'unknown') {
      // Multicluster, a valid name outside the allowlist: only a caller with a verified bearer learns that it
      // does not exist (Go's plain 404); everyone else got the same challenge as for a real cluster.
      writeGoNotFound(res);
      throw new AnsweredByGuard(404);
    }
    const identity = await this.resourceServer.identity(verdict, cluster?.config.clickhouse);
    if (!identity.ok) return this.refuse(res, surface, this.identityFailure(req, identity));

    // From here on the request may carry a token in its path (JWE + OAuth): logs show the route template.
    if (this.jweEnabled) markSecretPath(req);
    setRequestContext(req, {
      requestId: getRequestId(req as IncomingMessage) ?? String(res.getHeader('x-request-id') ?? randomUUID()),
      identity: this.resourceServer.callerIdentity(token, verdict),
      clickhouse: identity.overrides,
      ...(cluster?.kind === 'known' ? { cluster: cluster.cluster, config: cluster.config } : {}),
    });
    this.metrics.recordOAuthAuth('ok');
    return true;
  }

  /** A refused bearer: 401 + challenge, 403 `insufficient_scope`, or 503 when the issuer's keys are out of reach. */
  private failure(req: Request, reason: BearerFailureReason | 'missing'): Answer {
    const oauth = this.resourceServer.oauth;
    const response = authFailureResponse(reason, { resourceMetadataUrl: this.resourceMetadataUrl(req), oauth });
    const text =
      reason === 'missing'
        ? OPENAPI_MISSING_TOKEN
        : reason === 'expired'
          ? OPENAPI_EXPIRED
          : reason === 'insufficient_scope'
            ? OPENAPI_INSUFFICIENT_SCOPE
            : reason === 'keys_unavailable'
              ? describeBearerFailure(reason)
              : OPENAPI_INVALID_TOKEN;
    return { status: response.status, headers: response.headers, json: response.body, text };
  }

  /** The token verified but ClickHouse cannot be served with it (spec §2.12 failures; never the token). */
  private identityFailure(req: Request, identity: Extract<ClickHouseIdentity, { ok: false }>): Answer {
    const outcome: OAuthAuthOutcome = identity.reason === 'connection_failed' ? 'clickhouse_unavailable' : identity.reason;
    this.metrics.recordOAuthAuth(outcome);
    switch (identity.reason) {
      case 'access_denied':
        return serverProblem(403, 'access_denied', identity.error);
      case 'unusable_token': {
        // The token is genuine but names no ClickHouse user: a token with other claims is the fix, hence a 401.
        const challenge = bearerChallenge({
          error: 'invalid_token',
          errorDescription: identity.error,
          resourceMetadata: this.resourceMetadataUrl(req),
          scope: challengeScopeHint(this.resourceServer.oauth),
        });
        return { ...serverProblem(401, 'invalid_token', identity.error), headers: { 'WWW-Authenticate': challenge } };
      }
      case 'connection_failed':
        return serverProblem(502, 'clickhouse_unavailable', identity.error);
      case 'misconfigured':
        return serverProblem(503, 'server_error', identity.error);
    }
  }

  /**
   * The challenge's PRM URL: per cluster on `/mcp/{cluster}` — for an allowlisted name and, alike, for a valid
   * one outside the allowlist, so the answer does not tell which clusters exist.
   */
  private resourceMetadataUrl(req: Request): string {
    return this.resourceServer.resourceMetadataUrl(req, clusterResolutionOf(req)?.cluster);
  }

  private refuse(res: ServerResponse, surface: AuthSurface, answer: Answer): never {
    if (!res.headersSent) {
      const body = surface === 'openapi' ? `${answer.text}\n` : JSON.stringify(answer.json);
      res.statusCode = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
      if (surface === 'openapi') {
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.setHeader('X-Content-Type-Options', 'nosniff');
      } else {
        res.setHeader('Content-Type', 'application/json');
      }
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    }
    throw new AnsweredByGuard(answer.status);
  }
}

function serverProblem(status: number, error: string, description: string): Answer {
  return { status, headers: {}, json: { error, error_description: description }, text: description };
}
