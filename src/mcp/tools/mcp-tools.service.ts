import { Inject, Injectable } from '@nestjs/common';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { ClickHouseQueryError } from '../../clickhouse/clickhouse-error.js';
import { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { ConnectionSpec, TabularResult } from '../../clickhouse/clickhouse.types.js';
import { ROOT_LOGGER } from '../../common/logging/logging.module.js';
import { configOfRequest } from '../../common/request-context.js';
import { ConfigStore } from '../../config/config.store.js';
import type { GatewayConfig } from '../../config/config.types.js';
import { effectiveLimits } from '../../config/effective-limits.js';
import { MetricsService, type ToolCallOutcome } from '../../metrics/metrics.service.js';
import type { McpCallContext } from '../mcp-server.factory.js';
import { validateQueryToolCall } from './arguments.js';
import { DynamicToolCatalog } from './dynamic-tool-catalog.js';
import { type DynamicTool, prepareDynamicToolCall, WRITE_DISABLED_READ_ONLY, writeToolFailedText, writeToolSuccessText } from './dynamic-tools.js';
import { queryExecutionFailedText, queryResultToolResult, toolError } from './result-format.js';
import { isSelectQuery } from '../../sql/select-guard.js';
import { resolveToolDefinitions, type ResolvedTools, staticToolDefinition, type StaticToolName } from './static-tools.js';
import type { McpToolDefinition, ToolCallResult } from './tool-types.js';
import { SchemaTools } from './schema-tools.js';
import { checkSqlText, sqlPolicyFromConfig } from './sql-checks.js';

interface ToolSet extends ResolvedTools {
  staticDefinitions: McpToolDefinition[];
}

/** The status row altinity-mcp returns for statements without a result set. */
const STATUS_OK: Pick<TabularResult, 'columns' | 'types' | 'rows'> = { columns: ['status'], types: ['String'], rows: [['OK']] };

/**
 * Lists and runs the tools of one caller: the static `execute_query` / `write_query`, the schema tools when
 * enabled, and the dynamic tools discovered for the caller's identity. Every tool result follows altinity-mcp's
 * texts; ClickHouse failures become `isError` results, never protocol errors.
 */
@Injectable()
export class McpToolsService {
  private readonly log: Logger;
  /** Tool rules resolved once per configuration object (a hot reload brings a new object). */
  private readonly toolSets = new WeakMap<GatewayConfig, ToolSet>();

  constructor(
    private readonly config: ConfigStore,
    private readonly clickhouse: ClickHouseService,
    private readonly catalog: DynamicToolCatalog,
    private readonly schemaTools: SchemaTools,
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'mcp-tools' });
  }

  private toolSet(cfg: GatewayConfig): ToolSet {
    let set = this.toolSets.get(cfg);
    if (!set) {
      const resolved = resolveToolDefinitions(cfg);
      for (const warning of resolved.warnings) this.log.warn(warning);
      for (const note of resolved.notes) this.log.info(note);
      set = {
        ...resolved,
        staticDefinitions: resolved.static.map((name) => staticToolDefinition(name, cfg.server.tool_input_settings)),
      };
      this.toolSets.set(cfg, set);
    }
    return set;
  }

  async listTools(ctx: McpCallContext): Promise<Tool[]> {
    const cfg = configOfRequest(ctx.connection, this.config.current);
    const set = this.toolSet(cfg);
    const tools: McpToolDefinition[] = [...set.staticDefinitions];
    if (cfg.server.schema_tools) tools.push(...this.schemaTools.definitions());
    if (set.dynamicRules.length > 0) {
      const dynamic = await this.catalog.tools(ctx, cfg, set.dynamicRules, this.reservedNames(cfg, set));
      for (const tool of dynamic) tools.push(tool.definition);
    }
    return tools as unknown as Tool[];
  }

  private reservedNames(cfg: GatewayConfig, set: ToolSet): string[] {
    return [...set.static, ...(cfg.server.schema_tools ? this.schemaTools.names() : [])];
  }

  /** Runs a tool; undefined when no tool of that name exists for this caller (a JSON-RPC error upstream). */
  async callTool(ctx: McpCallContext, name: string, args: unknown): Promise<CallToolResult | undefined> {
    const started = performance.now();
    const cfg = configOfRequest(ctx.connection, this.config.current);
    const set = this.toolSet(cfg);
    let outcome: ToolCallOutcome = 'ok';
    let rows = 0;
    let result: ToolCallResult | undefined;
    try {
      if ((set.static as string[]).includes(name)) {
        result = await this.runQueryTool(ctx, cfg, name as StaticToolName, args);
      } else if (cfg.server.schema_tools && this.schemaTools.names().includes(name)) {
        result = await this.schemaTools.call(name, args, this.connection(ctx, cfg), ctx.signal);
      } else if (set.dynamicRules.length > 0) {
        const tools = await this.catalog.tools(ctx, cfg, set.dynamicRules, this.reservedNames(cfg, set));
        const tool = tools.find((t) => t.name === name);
        if (tool) result = await this.runDynamicTool(ctx, cfg, tool, args);
      }
      if (result === undefined) return undefined;
      const meta = (result as { _meta?: { rows?: number; truncated?: boolean; rejected?: boolean } })._meta;
      rows = meta?.rows ?? 0;
      if (result.isError) outcome = ctx.signal.aborted ? 'cancelled' : meta?.rejected ? 'rejected' : 'error';
      else if (meta?.truncated) outcome = 'truncated';
      delete (result as { _meta?: unknown })._meta;
      return result as CallToolResult;
    } finally {
      if (result !== undefined) this.metrics.recordToolCall(name, outcome, performance.now() - started, rows);
    }
  }

  private readonly countBlockedClause = (clause: string): void => this.metrics.recordBlockedClause(clause);

  private connection(ctx: McpCallContext, cfg: GatewayConfig): ConnectionSpec {
    return this.clickhouse.connectionFromConfig(cfg.clickhouse, ctx.connection.clickhouse);
  }

  private async runQueryTool(ctx: McpCallContext, cfg: GatewayConfig, tool: StaticToolName, args: unknown): Promise<ToolCallResult> {
    const limits = effectiveLimits(cfg.clickhouse, ctx.connection.clickhouse);
    const checked = await validateQueryToolCall(tool, args, {
      toolInputSettings: cfg.server.tool_input_settings,
      maxQueryLength: limits.maxQueryLength,
      blockedClauses: cfg.server.blocked_query_clauses,
      policy: sqlPolicyFromConfig(cfg),
      onBlockedClause: this.countBlockedClause,
    });
    if (!checked.ok) return rejected(checked.message);
    const { query, settings } = checked.value;

    const conn = this.connection(ctx, cfg);
    const readOnly = tool === 'execute_query' || cfg.clickhouse.read_only;
    try {
      if (tool === 'execute_query' || isSelectQuery(query)) {
        const result = await this.clickhouse.query(conn, query, {
          signal: ctx.signal,
          settings,
          readOnly,
          maxRows: limits.maxResultRows,
          maxBytes: limits.maxResultBytes,
        });
        return withMeta(queryResultToolResult(result), result);
      }
      if (cfg.clickhouse.read_only) return rejected('query rejected: read-only mode allows only SELECT/WITH/SHOW/DESC/EXISTS/EXPLAIN statements');
      await this.clickhouse.command(conn, query, { signal: ctx.signal, settings });
      return queryResultToolResult({ ...STATUS_OK, truncated: undefined });
    } catch (err) {
      if (isPolicyRefusal(err)) return rejected(err.userMessage);
      return toolError(queryExecutionFailedText(executionErrorText(err)));
    }
  }

  private async runDynamicTool(ctx: McpCallContext, cfg: GatewayConfig, tool: DynamicTool, args: unknown): Promise<ToolCallResult> {
    if (tool.kind === 'write' && cfg.clickhouse.read_only) return rejected(WRITE_DISABLED_READ_ONLY);
    const prepared = prepareDynamicToolCall(tool, args, cfg.server.tool_input_settings, cfg.server.protected_settings);
    if (!prepared.ok) return rejected(prepared.message);
    const { sql, settings, params } = prepared.value;
    // The generated SQL passes the same checks as a caller's (a hostile argument value is bound or quoted, so
    // this holds by construction; the check makes it hold whatever a later change to the SQL builders does).
    const failed = await checkSqlText(sql, {
      readOnlyGuard: 'off',
      blockedClauses: tool.kind === 'write' ? cfg.server.blocked_query_clauses : undefined,
      policy: sqlPolicyFromConfig(cfg),
      onBlockedClause: this.countBlockedClause,
    });
    if (failed) return rejected(failed.message);
    const conn = this.connection(ctx, cfg);
    if (tool.kind === 'write') {
      try {
        await this.clickhouse.command(conn, sql, { signal: ctx.signal, settings });
        return { content: [{ type: 'text', text: writeToolSuccessText(tool.name) }] };
      } catch (err) {
        if (isPolicyRefusal(err)) return rejected(err.userMessage);
        return toolError(writeToolFailedText(executionErrorText(err)));
      }
    }
    const limits = effectiveLimits(cfg.clickhouse, ctx.connection.clickhouse);
    try {
      const result = await this.clickhouse.query(conn, sql, {
        signal: ctx.signal,
        settings,
        params,
        readOnly: true,
        maxRows: limits.maxResultRows,
        maxBytes: limits.maxResultBytes,
      });
      return withMeta(queryResultToolResult(result, ''), result);
    } catch (err) {
      if (isPolicyRefusal(err)) return rejected(err.userMessage);
      return toolError(queryExecutionFailedText(executionErrorText(err)));
    }
  }
}

/** altinity-mcp's inner error text: `failed to execute query: <what ClickHouse said>`. */
export function executionErrorText(err: unknown): string {
  if (err instanceof ClickHouseQueryError) {
    const code = err.code !== undefined ? `code: ${err.code}${err.type ? ` (${err.type})` : ''}, ` : '';
    if (err.kind === 'unreachable' || err.kind === 'cancelled' || err.kind === 'timeout' || err.code === undefined) {
      return `failed to execute query: ${code}${err.userMessage}`;
    }
    return `failed to execute query: ${code}message: ${err.userMessage}`;
  }
  return `failed to execute query: ${(err as Error)?.message ?? String(err)}`;
}

/** The data layer's last wall refused the SQL (its reason is a complete `Query rejected: …` text). */
export function isPolicyRefusal(err: unknown): err is ClickHouseQueryError {
  return err instanceof ClickHouseQueryError && err.kind === 'rejected';
}

function rejected(message: string): ToolCallResult {
  return { ...toolError(message), _meta: { rejected: true } } as ToolCallResult;
}

function withMeta(result: ToolCallResult, data: TabularResult): ToolCallResult {
  return { ...result, _meta: { rows: data.rows.length, truncated: data.truncated !== undefined } } as ToolCallResult;
}
