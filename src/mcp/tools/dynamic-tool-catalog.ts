import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { ConnectionSpec } from '../../clickhouse/clickhouse.types.js';
import { ROOT_LOGGER } from '../../common/logging/logging.module.js';
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

const POSITIVE_TTL_MS = 5 * 60_000;
const NEGATIVE_TTL_MS = 30_000;
const DISCOVERY_TIMEOUT_MS = 15_000;
const MAX_ENTRIES = 1_000;

interface Entry {
  expires: number;
  tools: Promise<DynamicTool[]>;
}

/**
 * Dynamic tools per caller identity and cluster. Unlike altinity-mcp (which discovers once, with the first
 * caller's credentials, and shows that list to everyone), each identity sees the views and tables its own
 * credentials can read. Results are cached for five minutes (failures for 30 s) per configuration generation;
 * concurrent requests share one discovery. A failed discovery leaves the static tools working.
 */
@Injectable()
export class DynamicToolCatalog {
  private readonly log: Logger;
  private readonly generations = new WeakMap<GatewayConfig, Map<string, Entry>>();

  constructor(
    private readonly clickhouse: ClickHouseService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'dynamic-tools' });
  }

  tools(ctx: McpCallContext, cfg: GatewayConfig, rules: readonly DynamicRule[], reserved: readonly string[]): Promise<DynamicTool[]> {
    let entries = this.generations.get(cfg);
    if (!entries) {
      entries = new Map();
      this.generations.set(cfg, entries);
    }
    const key = `${ctx.connection.identity.cacheKey}\u0000${ctx.connection.cluster ?? ''}`;
    const now = Date.now();
    const cached = entries.get(key);
    if (cached && cached.expires > now) return cached.tools;

    const conn = this.clickhouse.connectionFromConfig(cfg.clickhouse, ctx.connection.clickhouse);
    const entry: Entry = { expires: now + POSITIVE_TTL_MS, tools: Promise.resolve([]) };
    entry.tools = this.discover(conn, cfg, rules, reserved).then(
      (result) => {
        for (const warning of result.warnings) this.log.warn({ identity: ctx.connection.identity.subject ?? ctx.connection.identity.kind }, warning);
        this.log.info({ tools: result.tools.map((t) => t.name) }, 'Dynamic tools discovered');
        return result.tools;
      },
      (err: unknown) => {
        entry.expires = Date.now() + NEGATIVE_TTL_MS;
        this.log.warn({ reason: (err as Error).message }, 'Failed to discover dynamic tools; serving the static tools only');
        return [];
      },
    );
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    entries.set(key, entry);
    return entry.tools;
  }

  /**
   * The one discovery function: reads views, tables and columns with the caller's connection and turns them
   * into tools. A multicluster catalog cache calls it per (identity, cluster).
   */
  async discover(conn: ConnectionSpec, cfg: GatewayConfig, rules: readonly DynamicRule[], reserved: readonly string[]): Promise<DiscoveryResult> {
    const signal = AbortSignal.timeout(DISCOVERY_TIMEOUT_MS);
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
