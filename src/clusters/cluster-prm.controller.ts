import type { ServerResponse } from 'node:http';
import { All, Controller, Param, Req, Res } from '@nestjs/common';
import type { Request } from 'express';
import { protectedResourceMetadata } from '../auth/oauth/resource-server/protected-resource.js';
import { requestView, serverView } from '../auth/oauth/resource-server/oauth-resource-server.service.js';
import { ConfigStore } from '../config/config.store.js';
import { writeGoNotFound } from './cluster-resolution.js';
import { ClusterRouter } from './cluster-router.js';

/**
 * Per-cluster protected-resource metadata (auth spec §3.4): `/.well-known/oauth-protected-resource/mcp/{cluster}`
 * (RFC 9728 §3.1) and `/mcp/{cluster}/.well-known/oauth-protected-resource` (where MCP clients probe), GET and
 * HEAD. The body is the root document's rules applied to this request (v1 shares one audience): with
 * `public_resource_url` set it equals the root PRM.
 *
 * A malformed name is a plain 404. A valid name outside the allowlist is a 404 only with
 * `reveal_unknown_clusters`; by default it gets the same document as an allowlisted one, so this route does not
 * tell an unauthenticated caller which clusters exist either. Registered ahead of the root PRM controller's
 * path-aware route and of the MCP routes.
 */
@Controller()
export class ClusterPrmController {
  private readonly revealUnknown: boolean;

  constructor(
    private readonly router: ClusterRouter,
    private readonly config: ConfigStore,
  ) {
    this.revealUnknown = config.boot.multicluster.reveal_unknown_clusters;
  }

  @All('.well-known/oauth-protected-resource/mcp/:cluster')
  wellKnownFirst(@Req() req: Request, @Res() res: ServerResponse): void {
    this.serve(req, res);
  }

  @All('mcp/:cluster/.well-known/oauth-protected-resource')
  clusterFirst(@Req() req: Request, @Res() res: ServerResponse, @Param('cluster') _cluster: string): void {
    this.serve(req, res);
  }

  private serve(req: Request, res: ServerResponse): void {
    // The name from the raw path (Express decodes parameters): `%61` is not the label `a`.
    const raw = /\/mcp\/([^/]*)/.exec(req.originalUrl.split('?')[0]!)?.[1] ?? '';
    const found = this.router.lookup(raw);
    if (!found.ok && (found.reason === 'malformed' || this.revealUnknown)) return writeGoNotFound(res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const body = 'Method Not Allowed\n';
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const { server } = this.config.current;
    const body = JSON.stringify(protectedResourceMetadata(requestView(req), serverView(server), server.oauth));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
