import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerException, ThrottlerGuard, ThrottlerStorageService, normalizeIp, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { clientAddress } from '../../../common/http/client-address.js';
import { ConfigStore } from '../../../config/config.store.js';
import { sendJson } from './broker-http.js';
import { BROKER_ENDPOINTS, BrokerMetrics, type BrokerEndpoint } from './broker-metrics.js';

export const BROKER_RATE_WINDOW_MS = 60_000;

/**
 * `@nestjs/throttler` on the broker routes (`server.oauth.requests_per_minute`, read per request; 0 = off), with its
 * own storage and budget, separate from `server.rate_limit`: one sliding minute per client address (through
 * `server.rate_limit.proxy_hops` trusted proxies, IPv6 per /64). Over the limit: 429 OAuth-style JSON with
 * `Retry-After`. Its options are its own (not ThrottlerModule's, which belong to the gateway-wide limiter).
 */
@Injectable()
export class BrokerThrottlerGuard extends ThrottlerGuard {
  constructor(
    // Explicit tokens: the parent's constructor declares its own (options, storage) for indexes 0 and 1.
    @Inject(ConfigStore) private readonly config: ConfigStore,
    @Inject(Reflector) reflector: Reflector,
    @Inject(BrokerMetrics) private readonly metrics: BrokerMetrics,
  ) {
    super(
      {
        throttlers: [
          {
            name: 'oauth',
            ttl: BROKER_RATE_WINDOW_MS,
            limit: () => config.current.server.oauth.requests_per_minute,
            blockDuration: 0,
          },
        ],
      },
      new ThrottlerStorageService(),
      reflector,
    );
  }

  private initialised: Promise<void> | undefined;

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    // Nest instantiates guards itself; the stock guard builds its throttler list in onModuleInit.
    this.initialised ??= this.onModuleInit();
    await this.initialised;
    return super.canActivate(context);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http' || this.config.current.server.oauth.requests_per_minute <= 0;
  }

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const address = clientAddress(req as IncomingMessage, this.config.current.server.rate_limit.proxy_hops);
    return `oauth:${normalizeIp(address, 64)}`;
  }

  /** One budget per client over every broker route. */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}\u0000${tracker}`;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const res = context.switchToHttp().getResponse<ServerResponse>();
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    const description = `too many requests: more than ${detail.limit} per minute from this client; retry after ${retryAfter} s`;
    const endpoint = context.getHandler().name;
    if ((BROKER_ENDPOINTS as readonly string[]).includes(endpoint)) this.metrics.record(endpoint as BrokerEndpoint, 'rate_limited');
    if (!res.headersSent) {
      sendJson(res, 429, { error: 'too_many_requests', error_description: description }, { 'Retry-After': String(retryAfter), 'Cache-Control': 'no-store' });
    }
    throw new ThrottlerException(description);
  }
}
