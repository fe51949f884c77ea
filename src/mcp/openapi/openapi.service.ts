import { Injectable } from '@nestjs/common';
import { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { TabularResult } from '../../clickhouse/clickhouse.types.js';
import { ConfigStore } from '../../config/config.store.js';
import type { GatewayConfig } from '../../config/config.types.js';
import { effectiveLimits } from '../../config/effective-limits.js';
import { GATEWAY_VERSION } from '../../version.js';
import type { McpCallContext } from '../mcp-server.factory.js';
import { extractToolInputSettings, type ToolArguments } from '../tools/arguments.js';
import { checkSqlText, sqlCheckOptions, sqlPolicyFromConfig } from '../tools/sql-checks.js';
import { DynamicToolCatalog } from '../tools/dynamic-tool-catalog.js';
import { buildInsertSql, buildViewCallSql } from '../tools/dynamic-sql.js';
import { type DynamicTool, WRITE_DISABLED_READ_ONLY } from '../tools/dynamic-tools.js';
import { executionErrorText, isPolicyRefusal } from '../tools/mcp-tools.service.js';
import { formatQueryResultCompact, marshalFailedText, queryExecutionFailedText, UnsupportedValueError } from '../tools/result-format.js';
import { SchemaTools } from '../tools/schema-tools.js';
import { READ_ONLY_REJECTION, isSelectQuery } from '../../sql/select-guard.js';
import { resolveToolDefinitions, type ResolvedTools } from '../tools/static-tools.js';
import { renderOpenApiSchema } from './openapi-schema.js';
import { MetricsService } from '../../metrics/metrics.service.js';

/** One HTTP answer of the OpenAPI routes: JSON on success, Go `http.Error`-style text otherwise. */
export interface OpenApiReply {
  status: number;
  body: string;
  json: boolean;
  /** `X-MCP-Truncated`: the cap that cut the result. */
  truncated?: string;
}

/** The refusal text of a write statement on `GET /openapi/execute_query` (upstream §E.1: execute_query's text). */
export const OPENAPI_READ_ONLY_REJECTION = READ_ONLY_REJECTION;

/** altinity-mcp's body for statements without a result set (as `write_query` answers). */
const STATUS_OK: Pick<TabularResult, 'columns' | 'types' | 'rows'> = { columns: ['status'], types: ['String'], rows: [['OK']] };

const text = (status: number, message: string): OpenApiReply => ({ status, body: `${message}\n`, json: false });

function resultReply(result: Pick<TabularResult, 'columns' | 'types' | 'rows' | 'truncated'>): OpenApiReply {
  try {
    const reply: OpenApiReply = { status: 200, body: formatQueryResultCompact(result), json: true };
    if (result.truncated) reply.truncated = result.truncated.reason;
    return reply;
  } catch (err) {
    // Go writes a 200 with an empty body here (the encoder fails before writing); an error is more useful.
    if (err instanceof UnsupportedValueError) return text(500, marshalFailedText(err));
    throw err;
  }
}

/**
 * altinity-mcp's OpenAPI mode (GPT Actions): the schema document, `execute_query` over GET, and the dynamic
 * tools over POST — same statuses and texts, with the caller's connection context and the same
 * per-identity dynamic-tool catalog as MCP. Differences from Go, all deliberate:
 *  - `GET /openapi/execute_query` is read-only (as upstream since #183) unless our opt-in
 *    `server.openapi.allow_write_queries`, with the statement guard of `execute_query` and ClickHouse `readonly`;
 *  - the nesting-depth limit and the SQL policy (table functions, files, protected settings) apply to it;
 *  - cross-site browser requests are refused (see openapi-fetch-site.ts);
 *  - dynamic write tools run their INSERT (Go sends `SELECT * FROM db.table(…)`, which always fails), and
 *    argument values are checked as in MCP (`Invalid argument "id": …` 400) instead of Go's silent `0`/`''`.
 */
@Injectable()
export class OpenApiService {
  private readonly resolved = new WeakMap<GatewayConfig, ResolvedTools>();

  constructor(
    private readonly config: ConfigStore,
    private readonly clickhouse: ClickHouseService,
    private readonly catalog: DynamicToolCatalog,
    private readonly schemaTools: SchemaTools,
    private readonly metrics: MetricsService,
  ) {}

  private readonly countBlockedClause = (clause: string): void => this.metrics.recordBlockedClause(clause);

  /** The caller's dynamic tools: the very list (and cache entry) MCP `tools/list` uses. Never throws. */
  async dynamicTools(ctx: McpCallContext, cfg: GatewayConfig = this.config.current): Promise<DynamicTool[]> {
    let set = this.resolved.get(cfg);
    if (!set) {
      set = resolveToolDefinitions(cfg); // warnings are logged by the MCP tools service, which resolves the same config
      this.resolved.set(cfg, set);
    }
    if (set.dynamicRules.length === 0) return [];
    const reserved = [...set.static, ...(cfg.server.schema_tools ? this.schemaTools.names() : [])];
    const tools = await this.catalog.tools(ctx, cfg, set.dynamicRules, reserved);
    // `/openapi/execute_query` is always the static operation.
    return tools.filter((t) => t.name !== 'execute_query');
  }

  /** `GET /openapi` (and every other path below it that is not an operation): the schema document. */
  async schema(ctx: McpCallContext, host: string, prefixes: readonly string[] = ['']): Promise<OpenApiReply> {
    const cfg = this.config.current;
    const tools = await this.dynamicTools(ctx, cfg);
    const body = renderOpenApiSchema({
      version: GATEWAY_VERSION,
      tls: cfg.server.openapi.tls,
      host,
      toolInputSettings: cfg.server.tool_input_settings,
      tools,
      prefixes,
    });
    return { status: 200, body, json: true };
  }

  /**
   * `GET /openapi/execute_query?query=…` (the caller has checked the method and decoded `query`). The SQL
   * checks run in upstream's order (§E.1): length (413) → read-only guard (400, unless
   * `server.openapi.allow_write_queries`) → nesting → blocked clauses → SQL policy (400).
   */
  async executeQuery(ctx: McpCallContext, query: string, params: URLSearchParams): Promise<OpenApiReply> {
    const cfg = this.config.current;
    const allowWrites = cfg.server.openapi.allow_write_queries && !cfg.clickhouse.read_only;
    const failed = await checkSqlText(query, { ...sqlCheckOptions(cfg, allowWrites ? 'off' : 'after-length'), onBlockedClause: this.countBlockedClause });
    if (failed) return text(failed.step === 'length' ? 413 : 400, failed.message);

    // Settings come from query parameters named in the allowlist (non-empty values only), as in Go.
    let settings: Record<string, string> | undefined;
    for (const name of cfg.server.tool_input_settings) {
      const value = params.get(name);
      if (value) (settings ??= {})[name] = value;
    }

    const limits = effectiveLimits(cfg.clickhouse, ctx.connection.clickhouse);
    const conn = this.clickhouse.connectionFromConfig(cfg.clickhouse, ctx.connection.clickhouse);
    try {
      if (!allowWrites || isSelectQuery(query)) {
        const result = await this.clickhouse.query(conn, query, {
          signal: ctx.signal,
          settings,
          readOnly: !allowWrites || cfg.clickhouse.read_only,
          maxRows: limits.maxResultRows,
          maxBytes: limits.maxResultBytes,
        });
        return resultReply(result);
      }
      await this.clickhouse.command(conn, query, { signal: ctx.signal, settings });
      return resultReply(STATUS_OK);
    } catch (err) {
      if (isPolicyRefusal(err)) return text(400, err.userMessage);
      // Go does not shorten this one (it does for the dynamic tools).
      return text(500, `Query execution failed: ${executionErrorText(err)}`);
    }
  }

  /**
   * `POST /openapi/<tool>`: runs a dynamic tool with the JSON body as its arguments. The body (already read
   * under the length cap, §E.2) is decoded before the catalog is looked up: bad JSON is a 400 whatever the
   * name; an unknown tool is undefined (the caller answers `404 page not found`). The generated SQL then
   * passes the same checks as MCP's (sql-checks.ts).
   */
  async callTool(ctx: McpCallContext, name: string, rawBody: Buffer): Promise<OpenApiReply | undefined> {
    const cfg = this.config.current;
    const parsed = parseJsonObject(rawBody);
    if (!parsed.ok) return text(400, 'Invalid JSON body');
    const body = parsed.value;

    const tool = (await this.dynamicTools(ctx, cfg)).find((t) => t.name === name);
    if (!tool) return undefined;

    let settings: Record<string, string> | undefined;
    if (cfg.server.tool_input_settings.length > 0) {
      const extracted = extractToolInputSettings(body, cfg.server.tool_input_settings, cfg.server.protected_settings);
      if (!extracted.ok) return text(400, extracted.message);
      settings = extracted.value;
    }
    // Declared parameters only (Go ignores other keys); the first missing required one is reported.
    const args: ToolArguments = {};
    for (const p of tool.params) {
      if (Object.hasOwn(body, p.name)) Object.defineProperty(args, p.name, { value: body[p.name], enumerable: true });
      else if (p.required) return text(400, `Missing required parameter: ${p.name}`);
    }

    const conn = this.clickhouse.connectionFromConfig(cfg.clickhouse, ctx.connection.clickhouse);
    const policy = sqlPolicyFromConfig(cfg);
    if (tool.kind === 'write') {
      if (cfg.clickhouse.read_only) return text(403, WRITE_DISABLED_READ_ONLY);
      const sql = buildInsertSql(tool.database, tool.table, tool.params, args);
      if (!sql.ok) return text(400, `Failed to build query: ${sql.message}`);
      const failed = await checkSqlText(sql.value, {
        readOnlyGuard: 'off',
        blockedClauses: cfg.server.blocked_query_clauses,
        policy,
        onBlockedClause: this.countBlockedClause,
      });
      if (failed) return text(400, failed.message);
      try {
        await this.clickhouse.command(conn, sql.value, { signal: ctx.signal, settings });
        return resultReply(STATUS_OK);
      } catch (err) {
        if (isPolicyRefusal(err)) return text(400, err.userMessage);
        return text(500, queryExecutionFailedText(executionErrorText(err)));
      }
    }

    const call = buildViewCallSql(tool.database, tool.table, tool.params, args);
    if (!call.ok) return text(400, call.message);
    const failed = await checkSqlText(call.value.sql, { readOnlyGuard: 'off', policy });
    if (failed) return text(400, failed.message);
    const limits = effectiveLimits(cfg.clickhouse, ctx.connection.clickhouse);
    try {
      const result = await this.clickhouse.query(conn, call.value.sql, {
        signal: ctx.signal,
        settings,
        params: call.value.params,
        readOnly: true,
        maxRows: limits.maxResultRows,
        maxBytes: limits.maxResultBytes,
      });
      return resultReply(result);
    } catch (err) {
      if (isPolicyRefusal(err)) return text(400, err.userMessage);
      return text(500, queryExecutionFailedText(executionErrorText(err)));
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Go's `json.NewDecoder(r.Body).Decode(&map[string]interface{})`: an object, or `null` (an empty map);
 * anything else — empty body, invalid JSON or UTF-8, arrays, scalars — is invalid.
 */
function parseJsonObject(body: Buffer): { ok: true; value: ToolArguments } | { ok: false } {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    return { ok: false };
  }
  if (value === null) return { ok: true, value: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false };
  return { ok: true, value: value as ToolArguments };
}
