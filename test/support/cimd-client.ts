import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayAppHooks } from '../../src/auth/oauth/outbound-fetch-hooks.js';
import { startLoopbackHttpsServer, type LoopbackHttpsServer } from '../auth/oauth/loopback-https-server.js';
import { gatewayHooksFrom, type SerializedOutboundHooks } from './outbound-hooks.js';

/**
 * Test support: an MCP client's Client ID Metadata Document (CIMD) served over real HTTPS on loopback under a
 * made-up public name (`https://mcp-client.test/oauth/client.json` by default), plus the gateway hooks that let
 * the gateway's SSRF-safe fetcher reach it: a stub resolver mapping the name to 127.0.0.1 and `testOnly`
 * (loopback allowed, dial the listener's port, trust its self-signed certificate). Nothing else is reachable.
 */
export interface CimdClientOptions {
  /** Default `mcp-client.test`. */
  readonly hostname?: string;
  /** Path of the document; default `/oauth/client.json`. */
  readonly documentPath?: string;
  /** Default `Harness MCP Client`. */
  readonly clientName?: string;
  /** Default `[https://<hostname>/callback]`. */
  readonly redirectUris?: readonly string[];
  /** Members merged over the generated document (`undefined` values remove a member). */
  readonly documentOverrides?: Readonly<Record<string, unknown>>;
  /** `Cache-Control` of the document answer; default `max-age=60`. */
  readonly cacheControl?: string;
  /** More names served by the same listener (all map to 127.0.0.1), e.g. for a client's `jwks_uri`. */
  readonly extraHostnames?: readonly string[];
}

export interface ExtraRoute {
  readonly status?: number;
  readonly contentType?: string;
  readonly cacheControl?: string;
  readonly body: string;
}

export interface CimdClientServer {
  /** The CIMD URL, i.e. the OAuth `client_id`. */
  readonly clientId: string;
  /** The first redirect URI of the document. */
  readonly redirectUri: string;
  readonly hostname: string;
  /** The document currently served (a copy). */
  document(): Record<string, unknown>;
  /** Replaces the served document (no cache on our side: the gateway's resolver decides when to refetch). */
  setDocument(document: Record<string, unknown>): void;
  /** Serves another path on the same listener (any of its names), e.g. `/jwks.json`. */
  setRoute(path: string, route: ExtraRoute | undefined): void;
  /** How many times the document was fetched. */
  documentFetches(): number;
  /** For `startGateway(flags, env, hooks)` (in-process). */
  readonly hooks: GatewayAppHooks;
  /** For `startGatewayProcess({ outboundHooks })` (JSON-safe; same settings). */
  readonly serializedHooks: SerializedOutboundHooks;
  readonly https: LoopbackHttpsServer;
  close(): Promise<void>;
}

export async function startCimdClient(options: CimdClientOptions = {}): Promise<CimdClientServer> {
  const hostname = (options.hostname ?? 'mcp-client.test').toLowerCase();
  const documentPath = options.documentPath ?? '/oauth/client.json';
  const clientId = `https://${hostname}${documentPath}`;
  const redirectUris = [...(options.redirectUris ?? [`https://${hostname}/callback`])];
  const names = [hostname, ...(options.extraHostnames ?? []).map((name) => name.toLowerCase())];
  const https = await startLoopbackHttpsServer(names);

  let document: Record<string, unknown> = {
    client_id: clientId,
    client_name: options.clientName ?? 'Harness MCP Client',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
  for (const [member, value] of Object.entries(options.documentOverrides ?? {})) {
    if (value === undefined) delete document[member];
    else document[member] = value;
  }
  const routes = new Map<string, ExtraRoute>();
  let fetches = 0;
  https.setHandler((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0]!;
    if (request.method === 'GET' && path === documentPath && (request.headers.host ?? '').split(':')[0] === hostname) {
      fetches += 1;
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': options.cacheControl ?? 'max-age=60' });
      response.end(JSON.stringify(document));
      return;
    }
    const route = routes.get(path);
    if (request.method === 'GET' && route) {
      response.writeHead(route.status ?? 200, {
        'content-type': route.contentType ?? 'application/json',
        ...(route.cacheControl ? { 'cache-control': route.cacheControl } : {}),
      });
      response.end(route.body);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });

  const serializedHooks: SerializedOutboundHooks = {
    hosts: Object.fromEntries(names.map((name) => [name, ['127.0.0.1']])),
    testOnly: { allowLoopback: true, connectPort: https.port, trustedCa: https.certificatePem },
  };
  return {
    clientId,
    redirectUri: redirectUris[0]!,
    hostname,
    document: () => structuredClone(document),
    setDocument: (next) => {
      document = structuredClone(next);
    },
    setRoute: (path, route) => {
      if (route) routes.set(path, route);
      else routes.delete(path);
    },
    documentFetches: () => fetches,
    hooks: gatewayHooksFrom(serializedHooks),
    serializedHooks,
    https,
    close: () => https.close(),
  };
}
