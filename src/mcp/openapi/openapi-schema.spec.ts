import { describe, expect, it } from 'vitest';
import { buildInsertToolDefinition, buildViewToolDefinition } from '../tools/dynamic-tools.js';
import { buildOpenApiSchema, renderOpenApiSchema } from './openapi-schema.js';

const view = buildViewToolDefinition(
  'mcp_search',
  {
    database: 'mcp',
    name: 'search',
    create_table_query: "CREATE VIEW mcp.search AS SELECT * FROM t WHERE title ILIKE {query: String} AND id > {min_id:UInt64}",
    comment: '{"description":"Returns <matching> issues & more."}',
  },
  [],
);
const insert = buildInsertToolDefinition(
  'mydb_users',
  { database: 'mydb', name: 'users', comment: '' },
  [
    { name: 'id', type: 'UInt64', default_kind: '', comment: '' },
    { name: 'note', type: 'Nullable(String)', default_kind: '', comment: '' },
  ],
  [],
).tool;
const optionalOnly = buildInsertToolDefinition(
  'mydb_notes',
  { database: 'mydb', name: 'notes', comment: '' },
  [{ name: 'note', type: 'Nullable(String)', default_kind: '', comment: '' }],
  [],
).tool;

describe('OpenAPI schema document (altinity-mcp ServeOpenAPISchema)', () => {
  it('has altinity-mcp bytes for the execute_query-only document', () => {
    const text = renderOpenApiSchema({ version: '1.2.3', tls: false, host: '127.0.0.1:8080', toolInputSettings: [], tools: [] });
    expect(text).toBe(
      '{"components":{"schemas":{}},"info":{"description":"Run SQL queries against a ClickHouse instance via GPT-actions.","title":"ClickHouse SQL Interface","version":"1.2.3"},' +
        '"openapi":"3.1.0","paths":{"/openapi/execute_query":{"get":{"operationId":"execute_query","parameters":[' +
        '{"description":"Read-only SQL to execute. Only SELECT/WITH/SHOW/DESCRIBE/EXISTS/EXPLAIN are allowed; write statements are always rejected.","in":"query","name":"query","required":true,"schema":{"type":"string"}},' +
        '{"description":"Optional max rows to return. If not specified, no limit is applied. If configured, cannot exceed server\'s maximum limit.","in":"query","name":"limit","required":false,"schema":{"type":"integer"}}],' +
        '"responses":{"200":{"content":{"application/json":{"schema":{"properties":{"columns":{"items":{"type":"string"},"type":"array"},"count":{"type":"integer"},"error":{"type":"string"},"rows":{"items":{"type":"array"},"type":"array"},"types":{"items":{"type":"string"},"type":"array"}},"type":"object"}}},"description":"Query result as JSON"}},' +
        '"summary":"Execute a SQL query"}}},"servers":[{"description":"Base OpenAPI host.","url":"http://127.0.0.1:8080"}]}\n',
    );
  });

  it('uses https in servers[0].url when openapi.tls is on, with the Host header verbatim', () => {
    const doc = buildOpenApiSchema({ version: 'v', tls: true, host: 'example.com', toolInputSettings: [], tools: [] });
    expect(doc.servers).toEqual([{ url: 'https://example.com', description: 'Base OpenAPI host.' }]);
  });

  it('adds one query parameter per tool_input_settings name', () => {
    const doc = buildOpenApiSchema({ version: 'v', tls: false, host: 'h', toolInputSettings: ['custom_tenant_id'], tools: [] });
    const params = (doc.paths as any)['/openapi/execute_query'].get.parameters;
    expect(params.map((p: { name: string }) => p.name)).toEqual(['query', 'limit', 'custom_tenant_id']);
    expect(params[2]).toEqual({ name: 'custom_tenant_id', in: 'query', required: false, description: 'ClickHouse setting: custom_tenant_id', schema: { type: 'string' } });
  });

  it('adds a POST operation per dynamic tool: types and formats, required list (null when empty), settings', () => {
    const doc = buildOpenApiSchema({ version: 'v', tls: false, host: 'h', toolInputSettings: ['custom_a'], tools: [view, insert, optionalOnly] });
    const paths = doc.paths as any;
    const search = paths['/openapi/mcp_search'].post;
    expect(search.summary).toBe('Returns <matching> issues & more.');
    const schema = search.requestBody.content['application/json'].schema;
    expect(schema.properties.query).toEqual({ type: 'string' });
    expect(schema.properties.min_id).toEqual({ type: 'integer', format: 'int64' });
    expect(schema.properties.settings.properties).toEqual({ custom_a: { type: 'string' } });
    expect(schema.required).toEqual(['query', 'min_id']);
    expect(paths['/openapi/mydb_users'].post.requestBody.content['application/json'].schema.required).toEqual(['id']);
    expect(paths['/openapi/mydb_users'].post.summary).toBe('Insert data in mydb.users');
    expect(paths['/openapi/mydb_notes'].post.requestBody.content['application/json'].schema.required).toBeNull();
    expect(search.responses).toEqual({ '200': { description: 'Query result', content: { 'application/json': { schema: { type: 'object' } } } } });

    // Go's encoder: keys sorted, HTML characters escaped, `required: null`.
    const text = renderOpenApiSchema({ version: 'v', tls: false, host: 'h', toolInputSettings: [], tools: [view, optionalOnly] });
    expect(text).toContain('"summary":"Returns \\u003cmatching\\u003e issues \\u0026 more."');
    expect(text).toContain('"properties":{"note":{"type":"string"}},"required":null,"type":"object"');
    expect(JSON.parse(text).paths['/openapi/mcp_search'].post.requestBody.required).toBe(true);
  });

  it('adds the jwe_token path parameter under a token prefix', () => {
    const doc = buildOpenApiSchema({ version: 'v', tls: false, host: 'h', toolInputSettings: [], tools: [view], prefixes: ['/{jwe_token}'] });
    const paths = doc.paths as any;
    expect(Object.keys(paths).sort()).toEqual(['/{jwe_token}/openapi/execute_query', '/{jwe_token}/openapi/mcp_search']);
    expect(paths['/{jwe_token}/openapi/execute_query'].get.parameters[0]).toEqual({
      name: 'jwe_token',
      in: 'path',
      required: true,
      description: 'JWE token for authentication.',
      schema: { type: 'string' },
      'x-oai-meta': { securityType: 'user_api_key' },
      default: 'default',
    });
  });
});
