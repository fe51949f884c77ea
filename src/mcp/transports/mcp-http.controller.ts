import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { All, type BeforeApplicationShutdown, Controller, Inject, Req, Res, UseInterceptors } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { AuthenticatedSurface, mcpMountOf } from '../../auth/auth-surface.js';
import { CatalogDiscoveryInterceptor } from '../../catalog/catalog-discovery.interceptor.js';
import { clientAddress } from '../../common/http/client-address.js';
import { setRouteTemplate } from '../../common/http/request-meta.js';
import { ROOT_LOGGER } from '../../common/logging/logging.module.js';
import { getRequestContext, type RequestConnectionContext, STATIC_IDENTITY } from '../../common/request-context.js';
import type { GatewayConfig } from '../../config/config.types.js';
import { McpServerFactory } from '../mcp-server.factory.js';
import { BodyTooLargeError, checkHostAndOrigin, checkStreamableHeaders, type HttpRefusal, readBody } from './http-checks.js';
import { INVALID_REQUEST, jsonRpcErrorBody, parseJsonRpcBody } from './json-rpc.js';
import { SingleExchangeTransport } from './single-exchange.transport.js';

/**
 * The MCP routes of altinity-mcp: with `transport: http`, every path that no other route claims serves
 * stateless streamable HTTP (a fresh MCP server per request); with `transport: sse`, `GET /sse` opens a
 * legacy SSE session and `POST /sse?sessionid=…` feeds it. Guards and interceptors apply as to any route.
 *
 * With JWE authentication the auth guard answers first: it admits only `/{token}` (HTTP) or `/{token}/sse`
 * (SSE) requests with an accepted token, fills the request context with the token's connection and tells this
 * controller the mount prefix; this controller never sees the token itself.
 */
@Controller()
@AuthenticatedSurface('mcp')
@UseInterceptors(CatalogDiscoveryInterceptor)
export class McpHttpController implements BeforeApplicationShutdown {
  private readonly log: Logger;
  private readonly sseSessions = new Map<string, { transport: SSEServerTransport; context: RequestConnectionContext }>();
  /** Streamable-HTTP requests being answered, by {@link inFlightKey}, for `notifications/cancelled`. */
  private readonly inFlight = new Map<string, Set<AbortController>>();

  constructor(
    private readonly config: ConfigService<GatewayConfig, true>,
    private readonly factory: McpServerFactory,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'mcp-http' });
  }

  @All('{*path}')
  async handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    // One read: this request's checks and limits all come from the same snapshot (transport and
    // max_body_bytes are restart-only, so they are the boot values).
    const server = this.config.get('server', { infer: true });
    const refusal = checkHostAndOrigin(req, server);
    if (refusal) return this.refuse(res, refusal);
    if (server.transport === 'sse') return this.handleSse(req, res);

    if (req.method !== 'POST') {
      return this.refuse(res, { status: 405, message: 'Method Not Allowed', headers: { Allow: 'POST' } });
    }
    const headerRefusal = checkStreamableHeaders(req);
    if (headerRefusal) return this.refuse(res, headerRefusal);

    let body: Buffer;
    try {
      body = await readBody(req, server.max_body_bytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close');
        return this.refuse(res, {
          status: 413,
          message: `Payload Too Large: the request body is over ${server.max_body_bytes} bytes`,
        });
      }
      return this.refuse(res, { status: 400, message: 'Bad Request: the request body could not be read' });
    }
    const parsed = parseJsonRpcBody(body);
    if (!parsed.ok) {
      res.status(parsed.status).type('application/json').send(jsonRpcErrorBody(parsed.code, parsed.message, parsed.id ?? null));
      return;
    }
    const context = getRequestContext(req) ?? { requestId: String(res.getHeader('x-request-id') ?? randomUUID()), identity: STATIC_IDENTITY, clickhouse: {} };
    if (parsed.id === undefined || !('method' in parsed.message)) {
      // Notifications and client responses need no answer over stateless HTTP; a cancellation reaches the
      // request it names (SDK clients cancel this way and keep the original POST open).
      if ('method' in parsed.message && parsed.message.method === 'notifications/cancelled') {
        this.cancelInFlight(context, parsed.message.params?.requestId, this.clientOf(req));
      }
      res.status(202).end();
      return;
    }

    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('the client closed the connection'));
    });
    const flightKey = inFlightKey(context, parsed.id, this.clientOf(req));
    const flights = this.inFlight.get(flightKey) ?? new Set<AbortController>();
    flights.add(abort);
    this.inFlight.set(flightKey, flights);
    const mcpServer = this.factory.create({ connection: context, signal: abort.signal, controller: abort });
    const transport = new SingleExchangeTransport(res as unknown as ServerResponse, parsed.id);
    try {
      await mcpServer.connect(transport);
      transport.deliver(parsed.message);
      await transport.done;
    } catch (err) {
      this.log.error({ err: (err as Error).message, request_id: context.requestId }, 'MCP request failed');
      if (!res.headersSent) res.status(500).type('application/json').send(jsonRpcErrorBody(-32603, 'Internal error', parsed.id));
    } finally {
      flights.delete(abort);
      if (flights.size === 0 && this.inFlight.get(flightKey) === flights) this.inFlight.delete(flightKey);
      void mcpServer.close().catch(() => undefined);
    }
  }

  /**
   * Aborts the in-flight request of this caller with the given JSON-RPC id. Stateless HTTP has no session to
   * scope ids by, so requests are keyed by caller identity (and cluster) plus id; when two requests of the
   * same identity share the id, neither is cancelled rather than risk ending another client's query.
   */
  private cancelInFlight(context: RequestConnectionContext, requestId: unknown, client: string): void {
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
    const flights = this.inFlight.get(inFlightKey(context, requestId, client));
    if (!flights || flights.size !== 1) return;
    for (const abort of flights) abort.abort(new Error('the client cancelled the request'));
  }

  /**
   * The caller's address as the rate limiter computes it (through `server.rate_limit.proxy_hops` trusted
   * proxies): behind a proxy every socket address is the proxy's, which would let one anonymous client cancel
   * another's call.
   */
  private clientOf(req: Request): string {
    return clientAddress(req, this.config.get('server', { infer: true }).rate_limit.proxy_hops);
  }

  private async handleSse(req: Request, res: Response): Promise<void> {
    const path = req.path.replace(/\/$/, '') || '/';
    // `/{token}/sse` in JWE mode (the guard checked the shape and named the route), else `/sse`.
    const endpoint = `${mcpMountOf(req).prefix}/sse`;
    if (path === '/sse' && endpoint === '/sse') setRouteTemplate(req, '/sse'); // metrics label the SSE endpoint as such, not as the catch-all
    if (path !== endpoint) {
      return this.refuse(res, { status: 404, message: 'Not Found: the SSE transport is served at /sse' });
    }
    if (req.method === 'GET') {
      const transport = new SSEServerTransport(endpoint, res as unknown as ServerResponse);
      const context = getRequestContext(req) ?? { requestId: randomUUID(), identity: STATIC_IDENTITY, clickhouse: {} };
      const abort = new AbortController();
      this.sseSessions.set(transport.sessionId, { transport, context });
      res.on('close', () => {
        abort.abort(new Error('the SSE stream closed'));
        this.sseSessions.delete(transport.sessionId);
      });
      const mcpServer = this.factory.create({ connection: context, signal: abort.signal });
      await mcpServer.connect(transport);
      return;
    }
    if (req.method !== 'POST') {
      return this.refuse(res, { status: 405, message: 'Method Not Allowed', headers: { Allow: 'GET, POST' } });
    }
    const sessionId = (req.query.sessionid ?? req.query.sessionId) as string | undefined;
    if (!sessionId || typeof sessionId !== 'string') {
      return this.refuse(res, { status: 400, message: 'Bad Request: sessionid must be provided' });
    }
    const session = this.sseSessions.get(sessionId);
    // A session belongs to the credential that opened it (upstream §D.2): another caller's POST, even with a
    // valid token of its own, finds no such session.
    const caller = getRequestContext(req)?.identity ?? STATIC_IDENTITY;
    if (!session || session.context.identity.kind !== caller.kind || session.context.identity.cacheKey !== caller.cacheKey) {
      return this.refuse(res, { status: 404, message: 'Not Found: session not found' });
    }
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    if (!contentType.startsWith('application/json')) {
      return this.refuse(res, { status: 415, message: "Unsupported Media Type: Content-Type must be 'application/json'" });
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.config.get('server.max_body_bytes', { infer: true }));
    } catch (err) {
      return this.refuse(res, err instanceof BodyTooLargeError ? { status: 413, message: 'Payload Too Large' } : { status: 400, message: 'Bad Request' });
    }
    const parsed = parseJsonRpcBody(body);
    if (!parsed.ok) {
      res.status(parsed.status).type('application/json').send(jsonRpcErrorBody(parsed.code, parsed.message, parsed.id ?? null));
      return;
    }
    try {
      await session.transport.handleMessage(parsed.message);
    } catch {
      // The SDK transport re-validates the message and throws on what its schema refuses (e.g. a notification
      // or response with extra members): a client error, not a server one.
      return this.refuse(res, { status: 400, code: INVALID_REQUEST, message: 'Invalid Request: the message does not match the JSON-RPC 2.0 schema' });
    }
    res.status(202).type('text/plain').send('Accepted');
  }

  private refuse(res: Response, refusal: HttpRefusal): void {
    for (const [k, v] of Object.entries(refusal.headers ?? {})) res.setHeader(k, v);
    res.status(refusal.status).type('application/json').send(jsonRpcErrorBody(refusal.code ?? -32000, refusal.message));
  }

  /** After the drain: legacy SSE streams never end by themselves, so end them before the server closes. */
  beforeApplicationShutdown(): void {
    this.closeSessions();
  }

  /** Ends every open SSE stream. */
  closeSessions(): void {
    for (const { transport } of this.sseSessions.values()) void transport.close();
    this.sseSessions.clear();
  }
}

function inFlightKey(context: RequestConnectionContext, id: string | number, client: string): string {
  // Without authentication every caller shares the static identity; the client address then keeps one
  // anonymous client from cancelling another's call by guessing its (usually small) JSON-RPC id.
  const who = context.identity.kind === 'static' ? `${context.identity.cacheKey}@${client}` : context.identity.cacheKey;
  return `${who}\u0000${context.cluster ?? ''}\u0000${typeof id}:${id}`;
}
