import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestConnectionContext } from '../common/request-context.js';
import { GATEWAY_VERSION } from '../version.js';
import { McpPromptsService } from './prompts/mcp-prompts.service.js';
import { McpResourcesService } from './resources/mcp-resources.service.js';
import { McpToolsService } from './tools/mcp-tools.service.js';

/** What one MCP exchange (an HTTP request, an SSE session, the stdio stream) carries into its server. */
export interface McpCallContext {
  connection: RequestConnectionContext;
  /** Aborted when the caller goes away: HTTP disconnect, SSE close, shutdown. */
  signal: AbortSignal;
}

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
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const signal = AbortSignal.any([ctx.signal, extra.signal]);
      const result = await this.tools.callTool({ ...ctx, signal }, request.params.name, request.params.arguments);
      if (result === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool "${request.params.name}"`);
      return result;
    });
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: this.resources.listResources() }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: this.resources.listTemplates(),
    }));
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
      this.resources.read({ ...ctx, signal: AbortSignal.any([ctx.signal, extra.signal]) }, request.params.uri),
    );
    server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: this.prompts.list() }));
    server.setRequestHandler(GetPromptRequestSchema, async (request) =>
      this.prompts.get(request.params.name, request.params.arguments ?? {}),
    );
    return server;
  }
}
