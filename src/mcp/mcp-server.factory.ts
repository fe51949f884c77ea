import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { RequestConnectionContext } from '../common/request-context.js';
import { GATEWAY_VERSION } from '../version.js';
import { fromSchemaError, invalidParams } from './json-rpc-error.js';
import { McpPromptsService } from './prompts/mcp-prompts.service.js';
import { McpResourcesService } from './resources/mcp-resources.service.js';
import { McpToolsService } from './tools/mcp-tools.service.js';

/** What one MCP exchange (an HTTP request, an SSE session, the stdio stream) carries into its server. */
export interface McpCallContext {
  connection: RequestConnectionContext;
  /** Aborted when the caller goes away: HTTP disconnect, SSE close, shutdown. */
  signal: AbortSignal;
  /**
   * Set when the context serves exactly one request (stateless HTTP): the request's own cancellation then
   * aborts this controller directly instead of deriving a combined signal per call.
   */
  controller?: AbortController;
}

/**
 * `tools/call` as far as the protocol layer checks it: a string `name`; `arguments` is left to the tools
 * service, which answers a non-object with altinity-mcp's tool error (`failed to parse tool arguments: …`).
 */
const CallToolRequestLooseSchema = z.object({
  method: z.literal('tools/call'),
  params: z.looseObject({ name: z.string(), arguments: z.unknown().optional() }),
});

type RequestHandler = (request: unknown, extra: unknown) => Promise<unknown>;

export const SERVER_NAME = 'Altinity ClickHouse MCP Server';
export const SERVER_INSTRUCTIONS =
  'Altinity ClickHouse MCP Server - A Model Context Protocol server for interacting with ClickHouse databases';

/**
 * Builds an MCP server for one caller. Tools, resources and prompts are resolved per request from the
 * configuration in force and the caller's identity, so a hot reload or a per-token catalog applies at once.
 * Handlers are closures over the context: building a server costs a few object allocations, nothing more.
 */
@Injectable()
export class McpServerFactory {
  /**
   * The SDK builds a JSON-schema validator (Ajv) for every Server it constructs, which costs more than the rest
   * of a small tool call; one instance serves every per-request server.
   */
  private readonly validator = new AjvJsonSchemaValidator();

  constructor(
    private readonly tools: McpToolsService,
    private readonly resources: McpResourcesService,
    private readonly prompts: McpPromptsService,
  ) {}

  create(ctx: McpCallContext): Server {
    const server = new Server(
      { name: SERVER_NAME, version: GATEWAY_VERSION },
      {
        capabilities: {
          logging: {},
          tools: { listChanged: true },
          resources: { listChanged: true },
          prompts: { listChanged: true },
        },
        instructions: SERVER_INSTRUCTIONS,
        jsonSchemaValidator: this.validator,
      },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await this.tools.listTools(ctx) }));
    // Registered with the protocol layer directly: the SDK Server's own tools/call wrapper would refuse a
    // non-object `arguments` with a schema dump before the tool could answer it.
    Protocol.prototype.setRequestHandler.call(
      server,
      CallToolRequestLooseSchema as never,
      (async (request: z.infer<typeof CallToolRequestLooseSchema>, extra: { signal: AbortSignal }) => {
        const result = await this.tools.callTool(callScope(ctx, extra.signal), request.params.name, request.params.arguments);
        if (result === undefined) throw invalidParams(`unknown tool "${request.params.name}"`);
        return result;
      }) as never,
    );
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: this.resources.listResources() }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: this.resources.listTemplates(),
    }));
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
      this.resources.read(callScope(ctx, extra.signal), request.params.uri),
    );
    server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: this.prompts.list() }));
    server.setRequestHandler(GetPromptRequestSchema, async (request) =>
      this.prompts.get(request.params.name, request.params.arguments ?? {}),
    );
    answerBadParamsAsInvalidParams(server);
    return server;
  }
}

/**
 * The context of one call: cancelled when the exchange ends (client gone, shutdown) or when the client sends
 * `notifications/cancelled` for this request. `AbortSignal.any` allocates a signal and a finalizer per call;
 * a context that serves a single request links the request's signal to its own controller instead.
 */
function callScope(ctx: McpCallContext, requestSignal: AbortSignal): McpCallContext {
  const { controller } = ctx;
  if (!controller) return { ...ctx, signal: AbortSignal.any([ctx.signal, requestSignal]) };
  if (requestSignal.aborted) controller.abort(requestSignal.reason);
  else requestSignal.addEventListener('abort', () => controller.abort(requestSignal.reason), { once: true });
  return ctx;
}

/**
 * Wraps every request handler of the server (the SDK's built-ins such as initialize and logging/setLevel
 * included) so that a request whose params fail the SDK's schema gets `-32602 Invalid params` with a readable
 * line instead of `-32603 Internal error` carrying a JSON dump of the schema issues.
 */
function answerBadParamsAsInvalidParams(server: Server): void {
  const handlers = (server as unknown as { _requestHandlers?: Map<string, RequestHandler> })._requestHandlers;
  if (!(handlers instanceof Map)) return;
  for (const [method, handler] of handlers) {
    handlers.set(method, async (request, extra) => {
      try {
        return await handler(request, extra);
      } catch (err) {
        throw fromSchemaError(err) ?? err;
      }
    });
  }
}
