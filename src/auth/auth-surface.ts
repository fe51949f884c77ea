import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { Request } from 'express';

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
 * What an auth guard works on: the surface the route serves, with its request and response, or undefined when
 * the route is not an authenticated surface (or not HTTP) and the guard has nothing to do.
 */
export function authenticatedRequest(
  reflector: Reflector,
  context: ExecutionContext,
): { surface: AuthSurface; req: Request; res: ServerResponse } | undefined {
  if (context.getType() !== 'http') return undefined;
  const surface = reflector.getAllAndOverride<AuthSurface | undefined>(AUTH_SURFACE, [context.getHandler(), context.getClass()]);
  if (surface === undefined) return undefined;
  const http = context.switchToHttp();
  return { surface, req: http.getRequest<Request>(), res: http.getResponse<ServerResponse>() };
}

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

/**
 * What the JWE guard found when OAuth is on as well (auth spec §1.5(2), upstream §C.1). In that mode the JWE
 * guard never answers itself: a complete token fills the request context, and the OAuth guard, which runs
 * next, decides from this hand-off whether a bearer is still needed or the request is refused with the OAuth
 * challenge. `message` is safe for the caller (no token).
 */
export type JweHandoff =
  | { state: 'absent' }
  | { state: 'complete' }
  | { state: 'partial' }
  | { state: 'malformed'; message: string; outcome: string };

const HANDOFF = Symbol('jweHandoff');

export function setJweHandoff(req: IncomingMessage, handoff: JweHandoff): void {
  (req as IncomingMessage & { [HANDOFF]?: JweHandoff })[HANDOFF] = handoff;
}

/** `absent` when the JWE guard left nothing (JWE off, or a surface it does not handle). */
export function jweHandoffOf(req: IncomingMessage): JweHandoff {
  return (req as IncomingMessage & { [HANDOFF]?: JweHandoff })[HANDOFF] ?? ABSENT;
}

const ABSENT: JweHandoff = Object.freeze({ state: 'absent' });
