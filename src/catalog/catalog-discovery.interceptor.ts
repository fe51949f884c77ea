import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { finalize, type Observable } from 'rxjs';
import { getRequestId } from '../common/http/request-meta.js';
import { getRequestContext, type RequestConnectionContext, setRequestContext, STATIC_IDENTITY } from '../common/request-context.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CatalogService } from './catalog.service.js';

/**
 * Counts how each MCP request's dynamic-tool catalog lookup ended: `mcp_catalog_discovery_total{cluster,
 * outcome}`, plus `mcp_catalog_discovery_duration_seconds{cluster}` when a discovery ran for it. DynamicToolCatalog
 * writes the outcome on the request context (`catalogLookup`); this reads it once the handler has finished.
 *
 * A request the auth guards left without a context (no JWE/OAuth) gets the static one here, before the handler,
 * so the handler and this interceptor share one object. Requests that looked nothing up record nothing.
 */
@Injectable()
export class CatalogDiscoveryInterceptor implements NestInterceptor {
  constructor(
    private readonly catalog: CatalogService,
    private readonly metrics: MetricsService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    let connection = getRequestContext(req);
    if (!connection) {
      const res = http.getResponse<ServerResponse>();
      connection = {
        requestId: getRequestId(req as IncomingMessage) ?? String(res.getHeader('x-request-id') ?? randomUUID()),
        identity: STATIC_IDENTITY,
        clickhouse: {},
      };
      setRequestContext(req, connection);
    }
    const before = connection;
    return next.handle().pipe(finalize(() => this.record(getRequestContext(req) ?? before)));
  }

  private record(connection: RequestConnectionContext): void {
    const lookup = connection.catalogLookup;
    if (!lookup) return;
    connection.catalogLookup = undefined; // read once (an SSE session's context outlives this request)
    this.metrics.recordCatalogDiscovery(this.catalog.clusterLabel(connection.cluster), lookup.outcome, lookup.discoveryMs);
  }
}
