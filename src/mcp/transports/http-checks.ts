import type { IncomingMessage } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { ServerConfig } from '../../config/config.types.js';
import { isLoopbackAddress } from '../../config/config.validation.js';

/** An HTTP-level refusal, answered before any MCP processing. */
export interface HttpRefusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
  /** JSON-RPC error code for the body (-32000 for transport errors, as the SDK uses). */
  code?: number;
}

const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1).toLowerCase();
  const colon = hostHeader.indexOf(':');
  return (colon >= 0 ? hostHeader.slice(0, colon) : hostHeader).toLowerCase();
}

const isLoopbackHostname = (h: string): boolean => LOOPBACK_HOSTNAMES.has(h) || /^127\.\d+\.\d+\.\d+$/.test(h);

/**
 * DNS-rebinding protection. A gateway bound to loopback only answers loopback Host names (plus
 * `server.allowed_hosts`); on other binds, `allowed_hosts`, when set, is enforced. A browser Origin must be
 * the same host, a loopback origin talking to a loopback host, or listed in `allowed_origins` / `cors_origin`.
 */
export function checkHostAndOrigin(req: IncomingMessage, server: ServerConfig): HttpRefusal | undefined {
  const hostHeader = req.headers.host ?? '';
  const hostname = hostnameOf(hostHeader);
  const allowedHosts = server.allowed_hosts.map((h) => h.toLowerCase());
  const hostAllowed =
    allowedHosts.includes(hostname) ||
    allowedHosts.includes(hostHeader.toLowerCase()) ||
    (isLoopbackAddress(server.address) ? isLoopbackHostname(hostname) : allowedHosts.length === 0);
  if (!hostAllowed) return { status: 403, message: `Forbidden: invalid Host header "${hostHeader}"` };

  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return { status: 403, message: `Forbidden: invalid Origin header "${origin}"` };
  }
  const originAllowed =
    originHost === hostHeader.toLowerCase() ||
    (isLoopbackHostname(hostnameOf(originHost)) && isLoopbackHostname(hostname)) ||
    server.allowed_origins.includes(origin) ||
    (server.cors_origin !== '*' && server.cors_origin === origin);
  return originAllowed ? undefined : { status: 403, message: `Forbidden: Origin "${origin}" is not allowed` };
}

/** Header checks of a streamable-HTTP POST, with the statuses MCP clients and altinity-mcp expect. */
export function checkStreamableHeaders(req: IncomingMessage): HttpRefusal | undefined {
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (!contentType.startsWith('application/json')) {
    return { status: 415, message: "Unsupported Media Type: Content-Type must be 'application/json'" };
  }
  const accept = (req.headers.accept ?? '').toLowerCase();
  const acceptsAll = accept.includes('*/*');
  if (!acceptsAll && (!accept.includes('application/json') || !accept.includes('text/event-stream'))) {
    return { status: 406, message: "Not Acceptable: Accept must contain both 'application/json' and 'text/event-stream'" };
  }
  const version = req.headers['mcp-protocol-version'];
  if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    return {
      status: 400,
      message: `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    };
  }
  return undefined;
}

export class BodyTooLargeError extends Error {}

/** Reads a request body up to `limit` bytes; larger bodies are refused without buffering them. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // drain without keeping it
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
