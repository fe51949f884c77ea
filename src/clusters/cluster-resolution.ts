import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/config.types.js';

/**
 * What the cluster routing middleware found for a `/mcp/{cluster}` request, handed to the OAuth guard (which runs
 * after every middleware) and through it to the request context.
 *
 * - `known`: an allowlisted cluster; `config` is the configuration the request runs under (its `clickhouse` is
 *   the cluster's copy).
 * - `unknown`: a valid name that is not allowlisted, with `reveal_unknown_clusters` off. The guard answers it
 *   exactly as it answers the same request for a known cluster until the bearer verifies, then with a 404 — so an
 *   unauthenticated caller cannot tell which clusters exist.
 */
export type ClusterResolution = { kind: 'known'; cluster: string; config: GatewayConfig } | { kind: 'unknown'; cluster: string };

const RESOLUTION = Symbol('clusterResolution');

type WithResolution = IncomingMessage & { [RESOLUTION]?: ClusterResolution };

export function setClusterResolution(req: IncomingMessage, resolution: ClusterResolution): void {
  (req as WithResolution)[RESOLUTION] = resolution;
}

export function clusterResolutionOf(req: IncomingMessage): ClusterResolution | undefined {
  return (req as WithResolution)[RESOLUTION];
}

/** Go's `http.NotFound`: the exact answer of altinity-mcp's mux for a route or cluster that does not exist. */
export function writeGoNotFound(res: ServerResponse): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = '404 page not found\n';
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
