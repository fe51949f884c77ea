import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { ConnectionSpec } from '../../clickhouse/clickhouse.types.js';
import { ROOT_LOGGER } from '../../common/logging/logging.module.js';
import type { CatalogLookupRecord } from '../../common/request-context.js';
import { CatalogService } from '../../catalog/catalog.service.js';
import type { GatewayConfig } from '../../config/config.types.js';
import type { McpCallContext } from '../mcp-server.factory.js';
import {
  type ColumnRow,
  columnsSql,
  type DiscoveryResult,
  discoverDynamicTools,
  type DynamicTool,
  selectWriteTables,
  TABLES_SQL,
  tableKey,
  type TableRow,
  VIEWS_SQL,
  type ViewRow,
} from './dynamic-tools.js';
import type { DynamicRule } from './static-tools.js';

/** altinity-mcp's warnings (auth §3.4 multicluster; upstream D.2 single-cluster auth modes; the no-auth path). */
export const MULTICLUSTER_DISCOVERY_FAILED = 'multicluster: discovery failed; static-only';
export const CREDENTIAL_DISCOVERY_FAILED = 'credential catalog discovery failed; static tools remain available';
export const STATIC_DISCOVERY_FAILED = 'dynamic catalog discovery failed';

/**
 * The `err` field of a discovery warning: the data layer's user message (credentials already scrubbed), or the
 * cache's own text (denied, saturated, timed out). Never a stack.
 */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : 'unknown error';
}

/** Discoveries outside the catalog cache (none today) keep the old bound; the cache imposes its own 3 s. */
const STANDALONE_DISCOVERY_TIMEOUT_MS = 15_000;

/**
 * Dynamic tools per caller, through the catalog cache (CatalogService, auth spec §4 / upstream §D.2): without
 * JWE/OAuth one catalog shared by everyone (discovered with the static credentials); with JWE or OAuth one per
 * credential, discovered with that credential's own connection (never the static one); in multicluster mode one
 * per (bearer, cluster). altinity-mcp's single-cluster mode discovered once with the first caller's
 * credentials and showed that list to everyone (auth §6.2 item 10); here nobody sees another credential's list.
 *
 * Any failure (refused credential, saturated slots, timeout, ClickHouse down) leaves the static tools working.
 * Each lookup's outcome is written on the request context for CatalogDiscoveryInterceptor.
 */
@Injectable()
export class DynamicToolCatalog {
  private readonly log: Logger;

  constructor(
    private readonly clickhouse: ClickHouseService,
    private readonly catalogs: CatalogService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'dynamic-tools' });
  }

  async tools(ctx: McpCallContext, cfg: GatewayConfig, rules: readonly DynamicRule[], reserved: readonly string[]): Promise<DynamicTool[]> {
    // upstream D.2: no dynamic rules, nothing to discover (and nothing to count).
    if (rules.length === 0) return [];
    const connection = ctx.connection;
    const scope = this.catalogs.scope(connection);
    if (!scope.ok) {
      this.log.warn({ err: scope.reason, request_id: connection.requestId }, CREDENTIAL_DISCOVERY_FAILED);
      return [];
    }
    const conn = this.clickhouse.connectionFromConfig(cfg.clickhouse, connection.clickhouse);
    const who = connection.identity.subject ?? connection.identity.kind;
    const result = await this.catalogs.lookup(
      cfg,
      scope,
      async (signal) => {
        const found = await this.discover(conn, cfg, rules, reserved, signal);
        for (const warning of found.warnings) this.log.warn({ identity: who, cluster: scope.cluster }, warning);
        this.log.info({ tools: found.tools.map((t) => t.name), identity: who, cluster: scope.cluster }, 'Dynamic tools discovered');
        return found.tools;
      },
      ctx.signal,
    );
    // Reflect.set: a context someone froze cannot carry the record, and losing one metric beats failing the request.
    const record: CatalogLookupRecord = 'discoveryMs' in result ? { outcome: result.outcome, discoveryMs: result.discoveryMs } : { outcome: result.outcome };
    Reflect.set(connection, 'catalogLookup', record);
    if ('value' in result) return result.value;

    const err = errorText(result.error);
    if (scope.mode === 'multicluster') this.log.warn({ cluster: scope.cluster, err, request_id: connection.requestId }, MULTICLUSTER_DISCOVERY_FAILED);
    else if (scope.mode === 'credential') this.log.warn({ err, identity: who, request_id: connection.requestId }, CREDENTIAL_DISCOVERY_FAILED);
    else this.log.warn({ err, request_id: connection.requestId }, STATIC_DISCOVERY_FAILED);
    return [];
  }

  /**
   * The one discovery function: reads views, tables and columns with the caller's connection and turns them
   * into tools. The catalog cache calls it with its 3 s timeout signal.
   */
  async discover(
    conn: ConnectionSpec,
    cfg: GatewayConfig,
    rules: readonly DynamicRule[],
    reserved: readonly string[],
    signal: AbortSignal = AbortSignal.timeout(STANDALONE_DISCOVERY_TIMEOUT_MS),
  ): Promise<DiscoveryResult> {
    const read = (sql: string, legacySql: string) => this.rows(conn, sql, signal, legacySql);
    const hasRead = rules.some((r) => r.type === 'read');
    const wantsWrite = !cfg.clickhouse.read_only && rules.some((r) => r.type === 'write');

    const views: ViewRow[] = hasRead
      ? (await read(VIEWS_SQL, VIEWS_SQL.replace(', comment FROM', ", '' AS comment FROM"))).map(([database, name, query, comment]) => ({
          database: String(database),
          name: String(name),
          create_table_query: String(query ?? ''),
          comment: String(comment ?? ''),
        }))
      : [];
    const tables: TableRow[] = wantsWrite
      ? (await read(TABLES_SQL, TABLES_SQL.replace(', comment FROM', ", '' AS comment FROM"))).map(([database, name, comment]) => ({
          database: String(database),
          name: String(name),
          comment: String(comment ?? ''),
        }))
      : [];
    const columns = new Map<string, ColumnRow[]>();
    for (const table of selectWriteTables(tables, rules, cfg.clickhouse.read_only)) {
      const sql = columnsSql(table.database, table.name);
      try {
        const rows = await read(sql, sql.replace(/ ORDER BY position$/, ''));
        columns.set(
          tableKey(table.database, table.name),
          rows.map(([name, type, defaultKind, comment]) => ({
            name: String(name),
            type: String(type),
            default_kind: String(defaultKind ?? ''),
            comment: String(comment ?? ''),
          })),
        );
      } catch (err) {
        this.log.warn({ table: `${table.database}.${table.name}`, reason: (err as Error).message }, 'failed to get columns for write tool');
      }
    }
    return discoverDynamicTools({ views, tables, columns }, rules, {
      readOnly: cfg.clickhouse.read_only,
      toolInputSettings: cfg.server.tool_input_settings,
      reservedNames: reserved,
    });
  }

  private async rows(conn: ConnectionSpec, sql: string, signal: AbortSignal, legacySql: string): Promise<unknown[][]> {
    return (await this.clickhouse.queryCompatible(conn, sql, legacySql, { signal, readOnly: true })).rows;
  }
}
