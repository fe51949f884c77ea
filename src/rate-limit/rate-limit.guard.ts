import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionContext, Inject, Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { clientAddress } from '../common/http/client-address.js';
import { getRequestContext } from '../common/request-context.js';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import { jsonRpcErrorBody } from '../common/http/json-rpc-error-body.js';
import { RATE_LIMIT_TEXT_BODY } from './rate-limit.decorators.js';

/** Injection token: controllers whose routes are never limited (probes, metrics). */
export const RATE_LIMIT_EXEMPT = Symbol('RATE_LIMIT_EXEMPT');

/** The window the limit is counted over. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** IPv6 clients are grouped per /64, as one host usually owns one. */
const IPV6_PREFIX = 64;


/**
 * `@nestjs/throttler` for the gateway (global guard). `server.rate_limit.requests_per_minute` is read per
 * request (hot reload applies; 0 = off). One sliding one-minute window per client, shared by every limited
 * route (MCP on any path, SSE, OpenAPI). The client is the caller identity when an auth layer has set one
 * (`RequestConnectionContext.identity.cacheKey`, so one token is one budget whatever its address), otherwise
 * the client IP. Over the limit: 429 with `Retry-After` (seconds) and a JSON-RPC error body — or plain text
 * on routes marked {@link RATE_LIMIT_TEXT_BODY} (OpenAPI, whose errors are all plain text).
 *
 * Identity seam: global guards run before controller guards, so an auth layer that wants per-token limits
 * must set the connection context in middleware or in a global guard registered before this one.
 */
@Injectable()
export class GatewayThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly config: ConfigService<GatewayConfig, true>,
    @Inject(RATE_LIMIT_EXEMPT) private readonly exempt: readonly Type[],
  ) {
    super(options, storage, reflector);
  }

  /** The limit in force (requests per minute; 0 = off). */
  currentLimit(): number {
    return this.config.get('server.rate_limit.requests_per_minute', { infer: true });
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.currentLimit() <= 0) return true;
    return this.exempt.includes(context.getClass());
  }

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const identity = getRequestContext(req as never)?.identity;
    if (identity && identity.kind !== 'static') return `id:${identity.cacheKey}`;
    const address = clientAddress(req as IncomingMessage, this.config.get('server.rate_limit.proxy_hops', { infer: true }));
    return `ip:${normalizeIp(address, IPV6_PREFIX)}`;
  }

  /** One budget per client across all limited routes (the stock key is per controller method). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}\u0000${tracker}`;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const res = context.switchToHttp().getResponse<ServerResponse>();
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    const message = `Too Many Requests: more than ${detail.limit} requests per minute from this client; retry after ${retryAfter} s`;
    if (!res.headersSent) {
      const text = this.reflector.getAllAndOverride<boolean>(RATE_LIMIT_TEXT_BODY, [context.getHandler(), context.getClass()]) === true;
      const body = text ? `${message}\n` : jsonRpcErrorBody(-32000, message);
      res.statusCode = 429;
      res.setHeader('Retry-After', String(retryAfter));
      res.setHeader('Content-Type', text ? 'text/plain; charset=utf-8' : 'application/json');
      if (text) res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    }
    // The answer is written; the exception only stops the route (the exception filter sees headersSent).
    throw new ThrottlerException(message);
  }
}
