import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import { pathOf, setRouteTemplate } from '../common/http/request-meta.js';
import { ConfigStore } from '../config/config.store.js';
import { setClusterResolution, writeGoNotFound } from './cluster-resolution.js';
import { ClusterRouter } from './cluster-router.js';

/**
 * `/mcp/<segment>` and what follows it, on the raw (undecoded) path. Case-insensitive like Express's routing
 * (`/MCP/x` reaches the same controller), so no spelling of the prefix slips past the resolution; the name itself
 * must still be lower case.
 */
const MCP_CLUSTER_PATH = /^\/mcp\/([^/]*)(\/.*)?$/i;
/** The per-cluster PRM subpath, served by `ClusterPrmController` (which judges the name itself). */
const PRM_SUBPATH = /^\/\.well-known\/oauth-protected-resource\/?$/;

/**
 * The router step of altinity-mcp's `/mcp/{cluster}` chain (auth spec §3.4 step 1–2), ahead of every guard (Nest
 * runs middleware before guards), so the OAuth guard sees the cluster:
 *
 * - the name is read from the raw path, never decoded: a percent-escape, `..`, a dot, upper case or an empty
 *   segment is not a label, and the answer is Go's plain `404 page not found` before anything else runs (no
 *   authentication, no ClickHouse);
 * - a valid name outside the allowlist gets that 404 too only with `reveal_unknown_clusters` (altinity-mcp's
 *   behaviour); by default it goes on as `unknown`, and the OAuth guard answers it like any other cluster until a
 *   bearer verifies (spec §6.2 item 9: otherwise 404-versus-401 tells anyone which clusters exist);
 * - an allowlisted name puts the cluster and its configuration on the request.
 *
 * Metrics and logs name the route `/mcp/{cluster}` (or `/mcp/{cluster}/` for the subtree), never the raw name.
 */
@Injectable()
export class ClusterRoutingMiddleware implements NestMiddleware {
  private readonly revealUnknown: boolean;

  constructor(
    private readonly router: ClusterRouter,
    private readonly config: ConfigStore,
  ) {
    this.revealUnknown = config.boot.multicluster.reveal_unknown_clusters;
  }

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    const match = MCP_CLUSTER_PATH.exec(pathOf(req));
    if (!match) return next();
    const name = match[1]!;
    const rest = match[2] ?? '';
    if (PRM_SUBPATH.test(rest)) return next();
    setRouteTemplate(req, rest === '' || rest === '/' ? '/mcp/{cluster}' : '/mcp/{cluster}/');
    const found = this.router.lookup(name);
    if (!found.ok) {
      if (found.reason === 'malformed' || this.revealUnknown) return writeGoNotFound(res);
      setClusterResolution(req, { kind: 'unknown', cluster: name });
      return next();
    }
    setClusterResolution(req, {
      kind: 'known',
      cluster: found.cluster,
      config: this.router.requestConfig(this.config.current, found.cluster, found.clickhouse),
    });
    next();
  }
}
