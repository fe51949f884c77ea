import { All, Controller, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthenticatedSurface } from '../../auth/auth-surface.js';
import { getRequestContext } from '../../common/request-context.js';
import { clusterResolutionOf, writeGoNotFound } from '../../clusters/cluster-resolution.js';
import { McpHttpController } from './mcp-http.controller.js';

/**
 * The MCP transport in multicluster mode (auth spec §3.4): `/mcp/{cluster}` and its subtree, stateless streamable
 * HTTP with a fresh MCP server per request, exactly as the single-cluster catch-all serves it. The cluster
 * routing middleware resolved the name before any guard, and the OAuth guard put the cluster and its
 * configuration on the request context. A request that arrives without them (which the chain never lets
 * happen) gets Go's 404 rather than the configuration in force.
 */
@Controller()
@AuthenticatedSurface('mcp')
export class MulticlusterMcpController extends McpHttpController {
  @All(['mcp/:cluster', 'mcp/:cluster/{*rest}'])
  override async handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    const resolution = clusterResolutionOf(req);
    const context = getRequestContext(req);
    if (resolution?.kind !== 'known' || context?.cluster !== resolution.cluster || !context.config) return writeGoNotFound(res);
    return super.handle(req, res);
  }
}

/**
 * Multicluster mode has no `/`, `/{token}`, SSE, OpenAPI or generator routes (auth spec §3.4): whatever no other
 * route claims gets Go's `404 page not found`. Not an authenticated surface, so no guard answers first with a
 * challenge for a route that does not exist. Registered last.
 */
@Controller()
export class MulticlusterNotFoundController {
  @All('{*path}')
  notFound(@Res() res: Response): void {
    writeGoNotFound(res);
  }
}
