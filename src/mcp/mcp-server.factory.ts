import { Injectable } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
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
import { GatewayMcpServer } from './gateway-mcp-server.js';
import { invalidParams } from './json-rpc-error.js';
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
    const server = new GatewayMcpServer(
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
    // Without the SDK Server's own tools/call check, which would refuse a non-object `arguments` with a schema
    // dump before the tool could answer it (see GatewayMcpServer).
    server.setRawToolCallHandler(CallToolRequestLooseSchema, async (request, extra) => {
      const result = await this.tools.callTool(callScope(ctx, extra.signal), request.params.name, request.params.arguments);
      if (result === undefined) throw invalidParams(`unknown tool "${request.params.name}"`);
      return result;
    });
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
