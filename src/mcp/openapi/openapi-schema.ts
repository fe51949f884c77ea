/**
 * The OpenAPI 3.1 document altinity-mcp serves at `GET /openapi` for GPT Actions (`ServeOpenAPISchema`,
 * pkg/server/server_openapi.go): one GET operation for `execute_query` and one POST operation per dynamic tool.
 * Built as plain data and encoded like Go's `json.NewEncoder(w).Encode` (keys sorted, HTML-safe escapes,
 * trailing newline), so the bytes match altinity-mcp's.
 */
import type { DynamicTool } from '../tools/dynamic-tools.js';
import { goJsonMarshal } from '../tools/result-format.js';
import { buildSettingsSchema } from '../tools/static-tools.js';
import { setOwn, type JsonSchema } from '../tools/tool-types.js';

export const OPENAPI_TITLE = 'ClickHouse SQL Interface';
export const OPENAPI_DESCRIPTION = 'Run SQL queries against a ClickHouse instance via GPT-actions.';
/** Upstream's text since #183 (the GET route is read-only whatever `read_only` says; §E.1). */
export const EXECUTE_QUERY_PARAM_DESCRIPTION =
  'Read-only SQL to execute. Only SELECT/WITH/SHOW/DESCRIBE/EXISTS/EXPLAIN are allowed; write statements are always rejected.';
/** altinity-mcp's text, kept verbatim; the parameter is accepted and ignored (the server caps still apply). */
export const LIMIT_PARAM_DESCRIPTION =
  "Optional max rows to return. If not specified, no limit is applied. If configured, cannot exceed server's maximum limit.";

export interface OpenApiSchemaInput {
  /** Package version (`info.version`). */
  version: string;
  /** `server.openapi.tls`: only changes the scheme of `servers[0].url`. */
  tls: boolean;
  /** The request's Host header, verbatim (empty when absent, as Go's `r.Host`). */
  host: string;
  /** `server.tool_input_settings`: one optional query parameter each, and a `settings` body property. */
  toolInputSettings: readonly string[];
  /** The caller's dynamic tools (read and write). */
  tools: readonly DynamicTool[];
  /**
   * Path prefixes: `['']` without auth. JWE mode (later) uses `['/{jwe_token}']`, plus `''` when OAuth is on
   * too; a non-empty prefix adds the `jwe_token` path parameter.
   */
  prefixes?: readonly string[];
}

const stringArray = { type: 'array', items: { type: 'string' } };

function executeQueryOperation(prefix: string, toolInputSettings: readonly string[]): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  if (prefix !== '') {
    parameters.push({
      name: 'jwe_token',
      in: 'path',
      required: true,
      description: 'JWE token for authentication.',
      schema: { type: 'string' },
      'x-oai-meta': { securityType: 'user_api_key' },
      default: 'default',
    });
  }
  parameters.push(
    { name: 'query', in: 'query', required: true, description: EXECUTE_QUERY_PARAM_DESCRIPTION, schema: { type: 'string' } },
    { name: 'limit', in: 'query', required: false, description: LIMIT_PARAM_DESCRIPTION, schema: { type: 'integer' } },
  );
  for (const setting of toolInputSettings) {
    parameters.push({ name: setting, in: 'query', required: false, description: `ClickHouse setting: ${setting}`, schema: { type: 'string' } });
  }
  return {
    get: {
      operationId: 'execute_query',
      summary: 'Execute a SQL query',
      parameters,
      responses: {
        '200': {
          description: 'Query result as JSON',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  columns: stringArray,
                  types: stringArray,
                  rows: { type: 'array', items: { type: 'array' } },
                  count: { type: 'integer' },
                  error: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  };
}

function dynamicToolOperation(tool: DynamicTool, toolInputSettings: readonly string[]): Record<string, unknown> {
  const props: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of tool.params) {
    setOwn(props, p.name, p.format ? { type: p.jsonType, format: p.format } : { type: p.jsonType });
    if (p.required) required.push(p.name);
  }
  const settings = buildSettingsSchema(toolInputSettings);
  if (settings) setOwn(props, 'settings', settings);
  return {
    post: {
      summary: tool.definition.description,
      requestBody: {
        required: true,
        content: {
          // Go's nil slice: `required` is null, not [], when no parameter is required.
          'application/json': { schema: { type: 'object', properties: props, required: required.length > 0 ? required : null } },
        },
      },
      responses: {
        '200': { description: 'Query result', content: { 'application/json': { schema: { type: 'object' } } } },
      },
    },
  };
}

/** The schema document as a value (for tests and callers that want to inspect it). */
export function buildOpenApiSchema(input: OpenApiSchemaInput): Record<string, unknown> {
  const prefixes = input.prefixes ?? [''];
  const paths: Record<string, unknown> = {};
  for (const prefix of prefixes) setOwn(paths, `${prefix}/openapi/execute_query`, executeQueryOperation(prefix, input.toolInputSettings));
  for (const prefix of prefixes) {
    for (const tool of input.tools) setOwn(paths, `${prefix}/openapi/${tool.name}`, dynamicToolOperation(tool, input.toolInputSettings));
  }
  return {
    openapi: '3.1.0',
    info: { title: OPENAPI_TITLE, version: input.version, description: OPENAPI_DESCRIPTION },
    servers: [{ url: `${input.tls ? 'https' : 'http'}://${input.host}`, description: 'Base OpenAPI host.' }],
    components: { schemas: {} },
    paths,
  };
}

/** `json.NewEncoder(w).Encode(schema)`: compact JSON, keys in Go's sorted order, plus a newline. */
export function renderOpenApiSchema(input: OpenApiSchemaInput): string {
  return `${goJsonMarshal(buildOpenApiSchema(input))}\n`;
}
