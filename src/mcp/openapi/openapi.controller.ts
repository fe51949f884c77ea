import { randomUUID } from 'node:crypto';
import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { AuthenticatedSurface } from '../../auth/auth-surface.js';
import { ROOT_LOGGER } from '../../common/logging/logging.module.js';
import { getRequestContext, STATIC_IDENTITY } from '../../common/request-context.js';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../../config/config.types.js';
import { RateLimitTextBody } from '../../rate-limit/rate-limit.decorators.js';
import type { McpCallContext } from '../mcp-server.factory.js';
import { BodyTooLargeError, checkHostAndOrigin, readBody } from '../transports/http-checks.js';
import { effectiveLimits } from '../../config/effective-limits.js';
import { crossSiteRefusal } from './openapi-fetch-site.js';
import { OpenApiService, type OpenApiReply } from './openapi.service.js';

const EXECUTE_QUERY_PATH = '/openapi/execute_query';
const TOOL_PREFIX = '/openapi/';

/** Go's `http.Error`: text/plain, nosniff, the message and a newline. */
function sendText(res: Response, status: number, message: string): void {
  send(res, { status, body: `${message}\n`, json: false });
}

function send(res: Response, reply: OpenApiReply): void {
  res.statusCode = reply.status;
  if (reply.json) {
    res.setHeader('Content-Type', 'application/json');
  } else {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
  }
  if (reply.truncated) res.setHeader('X-MCP-Truncated', reply.truncated);
  res.setHeader('Content-Length', Buffer.byteLength(reply.body));
  res.end(reply.body);
}

/**
 * altinity-mcp's OpenAPI routes (`--openapi http|https`): `/openapi` and every path below it, plus — in JWE
 * mode — `/{token}/openapi` and below (see {@link OpenApiTokenController}). Dispatch as in Go's
 * `OpenAPIHandler`, after one trailing slash is stripped: a path ending in `/openapi/execute_query` runs SQL
 * (GET only, else `405 Method not allowed`); a POST to `/openapi/<tool>` runs that dynamic tool (`404 page not
 * found` when the caller has none of that name); anything else — including GET `/openapi/list_tables` and
 * `/openapi/describe_table` — returns the schema document.
 *
 * Registered only when `server.openapi.enabled` is on at boot (restart-only key), and before the MCP catch-all,
 * so with OpenAPI off these paths are MCP endpoints exactly as before. The endpoints that run SQL get the
 * same Host/Origin (DNS-rebinding) check as MCP plus a cross-site browser check; the schema document does not (it runs no caller SQL and
 * must answer under the public Host name a GPT Action uses).
 *
 * JWE mode: the auth guard authenticates every route here (the exact `/openapi` schema too, upstream §D.1) and
 * fills the connection context; the schema then lists the `/{jwe_token}/openapi/...` paths.
 */
abstract class OpenApiRoutes {
  protected readonly log: Logger;
  /** `server.jwe.enabled` is restart-only: whether the documented paths carry the `/{jwe_token}` prefix. */
  private readonly schemaPrefixes: readonly string[];

  constructor(
    protected readonly openapi: OpenApiService,
    protected readonly config: ConfigService<GatewayConfig, true>,
    logger: Logger,
  ) {
    this.log = logger.child({ context: 'openapi' });
    this.schemaPrefixes = this.config.get('server.jwe.enabled', { infer: true }) ? ['/{jwe_token}'] : [''];
  }

  /** `tokenised`: the path starts with the `/{token}` segment, which is not part of the OpenAPI path. */
  protected async handle(req: Request, res: Response, tokenised: boolean): Promise<void> {
    const rawUrl = req.originalUrl ?? req.url;
    const queryStart = rawUrl.indexOf('?');
    const params = new URLSearchParams(queryStart >= 0 ? rawUrl.slice(queryStart + 1) : '');
    const path = stripOneTrailingSlash(decodePath(tokenised ? req.path.slice(req.path.indexOf('/', 1)) : req.path));

    if (path.endsWith(EXECUTE_QUERY_PATH)) {
      if (req.method !== 'GET') return sendText(res, 405, 'Method not allowed');
      if (this.refused(req, res)) return;
      // Loaded on first use: class-validator costs ~100 ms and ~12 MB at start-up, for a route many never call.
      const { validateExecuteQueryParams } = await import('./openapi.dto.js');
      const checked = await validateExecuteQueryParams(params);
      if (!checked.ok) return sendText(res, 400, checked.message);
      return send(res, await this.openapi.executeQuery(this.callContext(req, res), checked.value.query, params));
    }

    if (path.startsWith(TOOL_PREFIX) && req.method === 'POST') {
      if (this.refused(req, res)) return;
      const name = trimSlashes(path.slice(TOOL_PREFIX.length));
      // §E.2: the whole body is capped at the effective max_query_length (inside the outer max_body_bytes),
      // and read before the catalog is looked up.
      const bodyLimit = this.config.get('server.max_body_bytes', { infer: true }); // restart-only: the boot value
      const jsonLimit = effectiveLimits(this.config.get('clickhouse', { infer: true })).maxQueryLength;
      const limit = jsonLimit !== undefined && jsonLimit < bodyLimit ? jsonLimit : bodyLimit;
      let body: Buffer;
      try {
        body = await readBody(req, limit);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          res.setHeader('Connection', 'close');
          if (limit === jsonLimit) return sendText(res, 413, `JSON body exceeds max length (limit ${jsonLimit})`);
          return sendText(res, 413, `Request body too large (limit ${bodyLimit} bytes)`);
        }
        this.log.debug({ reason: (err as Error)?.message ?? String(err) }, 'OpenAPI request body could not be read');
        if (!res.destroyed) sendText(res, 400, 'Invalid JSON body');
        return;
      }
      const reply = await this.openapi.callTool(this.callContext(req, res), name, body);
      return reply ? send(res, reply) : sendText(res, 404, '404 page not found');
    }

    return send(res, await this.openapi.schema(this.callContext(req, res), req.headers.host ?? '', this.schemaPrefixes));
  }

  /** The DNS-rebinding guard of the MCP routes and the cross-site browser guard, answered in Go's text style. */
  private refused(req: Request, res: Response): boolean {
    const server = this.config.get('server', { infer: true });
    const refusal = checkHostAndOrigin(req, server);
    if (refusal) {
      sendText(res, refusal.status, refusal.message);
      return true;
    }
    const crossSite = crossSiteRefusal(req, server);
    if (!crossSite) return false;
    sendText(res, 403, crossSite);
    return true;
  }

  /** The caller's connection context (filled by auth guards later) and a signal that fires if the client leaves. */
  private callContext(req: Request, res: Response): McpCallContext {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('the client closed the connection'));
    });
    const connection = getRequestContext(req) ?? {
      requestId: String(res.getHeader('x-request-id') ?? randomUUID()),
      identity: STATIC_IDENTITY,
      clickhouse: {},
    };
    return { connection, signal: abort.signal };
  }
}

@Controller()
@RateLimitTextBody()
@AuthenticatedSurface('openapi')
export class OpenApiController extends OpenApiRoutes {
  constructor(openapi: OpenApiService, config: ConfigService<GatewayConfig, true>, @Inject(ROOT_LOGGER) logger: Logger) {
    super(openapi, config, logger);
  }

  @All('openapi')
  root(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res, false);
  }

  @All('openapi/{*rest}')
  below(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res, false);
  }
}

/**
 * JWE mode only (auth spec §1.5): `/{token}/openapi` and every path below it, the token being one path segment
 * (the guard reads it). Without JWE these paths stay MCP paths, as in altinity-mcp.
 */
@Controller()
@RateLimitTextBody()
@AuthenticatedSurface('openapi')
export class OpenApiTokenController extends OpenApiRoutes {
  constructor(openapi: OpenApiService, config: ConfigService<GatewayConfig, true>, @Inject(ROOT_LOGGER) logger: Logger) {
    super(openapi, config, logger);
  }

  @All(':token/openapi')
  root(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res, true);
  }

  @All(':token/openapi/{*rest}')
  below(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.handle(req, res, true);
  }
}

/** The path as Go routes it (`r.URL.Path` is percent-decoded); undecodable text is kept as it is. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** altinity-mcp's `stripTrailingSlash`: one trailing `/` removed from any path but `/`. */
function stripOneTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Go's `strings.Trim(s, "/")`. */
function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}
