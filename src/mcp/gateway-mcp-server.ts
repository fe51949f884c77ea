import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { AnyObjectSchema, SchemaOutput } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { Protocol, type RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Notification, Request, Result, ServerNotification, ServerRequest, ServerResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { fromSchemaError } from './json-rpc-error.js';

/**
 * The one place that adapts the MCP SDK's `Server` to the gateway's wire behaviour, through its public API:
 *
 * 1. Bad params get `-32602 Invalid params` and one readable line. The SDK parses a request against the
 *    handler's schema before the handler runs and lets the ZodError escape, which its protocol layer answers as
 *    `-32603 Internal error` with the issues dumped as JSON. `setRequestHandler` is overridden so that every
 *    handler, the SDK's built-ins included (its constructors register `initialize`, `ping` and
 *    `logging/setLevel` through this same method), is registered with a schema that only pins the method and
 *    does the real parse itself, turning a schema failure into `-32602`.
 * 2. `tools/call` reaches the tools service with its raw `arguments`. `Server.setRequestHandler` wraps
 *    `tools/call` in a check that refuses a non-object `arguments` with a schema dump, where altinity-mcp
 *    answers with a tool error (`failed to parse tool arguments: …`); {@link setRawToolCallHandler} registers
 *    it with the protocol layer's `setRequestHandler` (public, on the SDK's exported `Protocol`) instead.
 *
 * `gateway-mcp-server.spec.ts` pins both assumptions against the installed SDK and fails on an upgrade that
 * breaks them.
 */
export class GatewayMcpServer extends Server {
  override setRequestHandler<T extends AnyObjectSchema>(
    requestSchema: T,
    handler: (
      request: SchemaOutput<T>,
      extra: RequestHandlerExtra<ServerRequest | Request, ServerNotification | Notification>,
    ) => ServerResult | Result | Promise<ServerResult | Result>,
  ): void {
    super.setRequestHandler(methodOnly(requestSchema), (request, extra) =>
      handler(parseParams(requestSchema, request), extra),
    );
  }

  /** Registers `tools/call` without the SDK Server's argument check; `schema` must pin `method: 'tools/call'`. */
  setRawToolCallHandler<T extends AnyObjectSchema>(
    schema: T,
    handler: (request: SchemaOutput<T>, extra: RequestHandlerExtra<ServerRequest | Request, ServerNotification | Notification>) => Promise<Result>,
  ): void {
    if (methodOf(schema) !== 'tools/call') throw new Error('setRawToolCallHandler: the schema must pin method "tools/call"');
    Protocol.prototype.setRequestHandler.call(this, methodOnly(schema), (request, extra) =>
      handler(parseParams(schema, request), extra),
    );
  }
}

function methodOf(schema: AnyObjectSchema): string {
  const method = (schema as { shape?: { method?: { value?: unknown } } }).shape?.method?.value;
  if (typeof method !== 'string') throw new Error('MCP request schema without a method literal');
  return method;
}

const methodOnlySchemas = new Map<string, z.ZodObject>();

/**
 * A schema the SDK's own parse cannot fail on: the request was routed here by this very method. Built once
 * per method, since a server (and its dozen handlers) is built per request.
 */
function methodOnly(schema: AnyObjectSchema): z.ZodObject {
  const method = methodOf(schema);
  let loose = methodOnlySchemas.get(method);
  if (!loose) {
    loose = z.looseObject({ method: z.literal(method) });
    methodOnlySchemas.set(method, loose);
  }
  return loose;
}

function parseParams<T extends AnyObjectSchema>(schema: T, request: unknown): SchemaOutput<T> {
  const parsed = z.safeParse(schema as unknown as z.ZodType, request);
  if (!parsed.success) throw fromSchemaError(parsed.error) ?? parsed.error;
  return parsed.data as SchemaOutput<T>;
}
