import type { IncomingMessage } from 'node:http';
import { SetMetadata } from '@nestjs/common';

/**
 * The seam between routes and the auth layer. A controller says which surface it serves (MCP transport or
 * OpenAPI); the auth guard reads that to decide how to authenticate and how to answer a refusal. Controllers
 * never see a token: they read the request context the guard fills, and for MCP the mount below.
 */
export type AuthSurface = 'mcp' | 'openapi';

export const AUTH_SURFACE = Symbol('authSurface');

/** Marks a controller (or one handler) as a surface that needs caller authentication when an auth mode is on. */
export const AuthenticatedSurface = (surface: AuthSurface): MethodDecorator & ClassDecorator => SetMetadata(AUTH_SURFACE, surface);

/**
 * Where the MCP transport is mounted for this request: `` (the root, no auth) or the `/{token}` path the caller
 * used in JWE mode — the SSE transport advertises `<prefix>/sse?sessionId=…` so the message POSTs authenticate
 * the same way as the stream.
 */
export interface McpMount {
  prefix: string;
}

const MOUNT = Symbol('mcpMount');

export function setMcpMount(req: IncomingMessage, mount: McpMount): void {
  (req as IncomingMessage & { [MOUNT]?: McpMount })[MOUNT] = mount;
}

export function mcpMountOf(req: IncomingMessage): McpMount {
  return (req as IncomingMessage & { [MOUNT]?: McpMount })[MOUNT] ?? ROOT_MOUNT;
}

const ROOT_MOUNT: McpMount = Object.freeze({ prefix: '' });
