import { describe, expect, it } from 'vitest';
import type { DynamicToolRule, ToolDefinition } from '../../config/config.types.js';
import { buildSettingsSchema, executeQueryTool, resolveToolDefinitions, writeQueryTool } from './static-tools.js';

const cfg = (tools: ToolDefinition[] = [], dynamic_tools: DynamicToolRule[] = [], read_only = false) => ({
  server: { tools, dynamic_tools },
  clickhouse: { read_only },
});

describe('execute_query / write_query definitions (vector 16)', () => {
  it('execute_query: exact strings, no limit, strict schema', () => {
    const tool = executeQueryTool([]);
    expect(tool).toEqual({
      name: 'execute_query',
      title: 'Execute SQL Query',
      description:
        'Executes a read-only SQL query against ClickHouse and returns the results. Only SELECT, WITH, SHOW, DESCRIBE, EXISTS, and EXPLAIN statements are allowed — write operations are rejected; use write_query for those.',
      annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
      inputSchema: {
        type: 'object',
        properties: {
          query: {
            type: 'string',
            description:
              'Read-only SQL query (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Add LIMIT in the SQL itself to cap your own result size; the server also enforces operator-configured caps and signals truncation when they fire.',
          },
        },
        required: ['query'],
        additionalProperties: false,
      },
    });
    // Same JSON text as Go's map encoding (sorted keys).
    expect(JSON.stringify(tool.inputSchema)).toBe(
      '{"additionalProperties":false,"properties":{"query":{"description":"Read-only SQL query (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN). Add LIMIT in the SQL itself to cap your own result size; the server also enforces operator-configured caps and signals truncation when they fire.","type":"string"}},"required":["query"],"type":"object"}',
    );
  });

  it('write_query: query + limit (number), destructive', () => {
    const tool = writeQueryTool([]);
    expect(tool.name).toBe('write_query');
    expect(tool.title).toBe('Execute Write Query');
    expect(tool.description).toBe(
      'Executes a write query (INSERT, UPDATE, DELETE, ALTER, CREATE, DROP, TRUNCATE) against ClickHouse. Not registered when the server runs in read-only mode.',
    );
    expect(tool.annotations).toEqual({ readOnlyHint: false, destructiveHint: true, openWorldHint: false });
    expect(tool.inputSchema).toEqual({
      type: 'object',
      properties: {
        limit: { type: 'number', description: 'Maximum number of rows to return for queries that produce result sets' },
        query: { type: 'string', description: 'SQL write query (INSERT, UPDATE, DELETE, ALTER, CREATE, DROP, TRUNCATE).' },
      },
      required: ['query'],
      additionalProperties: false,
    });
  });

  it('adds the settings fragment when tool_input_settings is non-empty (vector 29)', () => {
    expect(buildSettingsSchema([])).toBeUndefined();
    const settings = executeQueryTool(['custom_tenant_id', 'custom_a']).inputSchema.properties.settings;
    expect(settings).toEqual({
      type: 'object',
      description: 'Optional ClickHouse settings to apply to this query. Allowed: custom_tenant_id, custom_a',
      properties: { custom_tenant_id: { type: 'string' }, custom_a: { type: 'string' } },
      additionalProperties: false,
    });
    expect(Object.keys(settings!.properties as object)).toEqual(['custom_a', 'custom_tenant_id']);
    expect(Object.keys(writeQueryTool(['custom_x']).inputSchema.properties)).toEqual(['limit', 'query', 'settings']);
  });
});

describe('resolveToolDefinitions (§3.3)', () => {
  it('defaults to execute_query + write_query (vector 15)', () => {
    const r = resolveToolDefinitions(cfg());
    expect(r.static).toEqual(['execute_query', 'write_query']);
    expect(r.dynamicRules).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('drops write_query in read-only mode', () => {
    const r = resolveToolDefinitions(cfg([], [], true));
    expect(r.static).toEqual(['execute_query']);
    expect(r.notes).toEqual(['Write tool skipped (read-only mode): write_query']);
  });

  it('uses server.tools as is: no implicit execute_query', () => {
    const r = resolveToolDefinitions(cfg([{ type: 'read', view_regexp: 'mcp\\..*' }]));
    expect(r.static).toEqual([]);
    expect(r.dynamicRules).toHaveLength(1);
    expect(r.dynamicRules[0]).toMatchObject({ type: 'read', prefix: '', pattern: 'mcp\\..*', origin: 'server.tools[0]' });
    expect(r.dynamicRules[0]!.regexp.test('mcp.search')).toBe(true);
    expect(r.dynamicRules[0]!.regexp.test('mcpxsearch')).toBe(false);
  });

  it('log-and-skips every invalid entry (vector 35)', () => {
    const r = resolveToolDefinitions(
      cfg([
        { type: 'read', name: 'execute_query' },
        { type: 'write', table_regexp: 'mydb\\.users', mode: 'update' },
        { type: 'write', table_regexp: 'mydb\\.users' },
        { type: 'read', table_regexp: 'mydb\\.users' },
        { type: 'write', view_regexp: 'mydb\\.v', mode: 'insert' },
        { type: 'read', name: 'write_query' },
        { type: 'write', name: 'nope' },
        { type: 'admin', name: 'execute_query' },
        { type: 'read' },
        { type: 'read', view_regexp: '(?=x)' },
        { type: 'write', table_regexp: 'mydb\\.users', mode: 'insert', prefix: 'w_' },
        { type: 'read', name: 'execute_query' },
      ]),
    );
    expect(r.static).toEqual(['execute_query']);
    expect(r.dynamicRules).toHaveLength(1);
    expect(r.dynamicRules[0]).toMatchObject({ type: 'write', mode: 'insert', prefix: 'w_', origin: 'server.tools[10]' });
    expect(r.warnings).toEqual([
      `server.tools[1]: Write tool mode not supported (only 'insert' is implemented) (mode "update"); skipping`,
      `server.tools[2]: Write tool must specify mode (only 'insert' is supported) (table_regexp "mydb\\\\.users"); skipping`,
      `server.tools[3]: Read tool must use view_regexp, not table_regexp (table_regexp "mydb\\\\.users"); skipping`,
      `server.tools[4]: Write tool must use table_regexp, not view_regexp (view_regexp "mydb\\\\.v"); skipping`,
      `server.tools[5]: Unknown static read tool name "write_query" (only execute_query exists); skipping`,
      `server.tools[6]: Unknown static write tool name "nope" (only write_query exists); skipping`,
      `server.tools[7]: Invalid tool type, must be 'read' or 'write' (type "admin"); skipping`,
      'server.tools[8]: Tool definition must have either name (static) or view_regexp/table_regexp (dynamic); skipping',
      'server.tools[9]: dynamic_tools: invalid regexp "(?=x)": error parsing regexp: invalid or unsupported Perl syntax: `(?=`, skipping rule',
    ]);
  });

  it('converts deprecated dynamic_tools with a warning', () => {
    const r = resolveToolDefinitions(
      cfg(
        [],
        [
          { regexp: 'db\\..*', prefix: 'ro_' },
          { type: 'write', regexp: 'db\\.t', mode: 'insert', name: 'add_t' },
          { name: 'execute_query' }, // no type, no regexp → invalid type
        ],
      ),
    );
    expect(r.warnings[0]).toBe('dynamic_tools config is deprecated, use tools instead');
    expect(r.warnings[1]).toBe(`server.dynamic_tools[2]: Invalid tool type, must be 'read' or 'write' (type ""); skipping`);
    expect(r.static).toEqual([]);
    expect(r.dynamicRules.map((d) => [d.type, d.pattern, d.prefix, d.name, d.mode])).toEqual([
      ['read', 'db\\..*', 'ro_', undefined, undefined],
      ['write', 'db\\.t', '', 'add_t', 'insert'],
    ]);
  });

  it('ignores dynamic_tools when tools is non-empty', () => {
    const r = resolveToolDefinitions(cfg([{ type: 'read', name: 'execute_query' }], [{ regexp: 'x' }]));
    expect(r.warnings).toEqual([]);
    expect(r.dynamicRules).toEqual([]);
  });
});
