import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ErrorCode, type ReadResourceResult, type Resource, type ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcError } from '../json-rpc-error.js';
import { ClickHouseQueryError } from '../../clickhouse/clickhouse-error.js';
import { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { GatewayConfig } from '../../config/config.types.js';
import type { McpCallContext } from '../mcp-server.factory.js';
import { sqlString } from '../../sql/sql-literals.js';
import { goJsonString, goJsonValue, truncateErrorForClient } from '../tools/result-format.js';

const SCHEMA_URI = 'clickhouse://schema';
const SCHEMA_RESOURCE: Resource = {
  uri: SCHEMA_URI,
  name: 'Database Catalog',
  description: 'Inventory of visible ClickHouse tables and views with database and engine information',
  mimeType: 'application/json',
};
const TABLE_TEMPLATE: ResourceTemplate = {
  uriTemplate: 'clickhouse://table/{database}/{table_name}',
  name: 'Table Structure',
  description: 'Detailed column-level schema information for a specific table',
  mimeType: 'application/json',
};

const COLUMN_FIELDS = [
  'name',
  'type',
  'default_kind',
  'default_expression',
  'comment',
  'is_in_partition_key',
  'is_in_sorting_key',
  'is_in_primary_key',
  'is_in_sampling_key',
] as const;

/**
 * altinity-mcp's resources: the table catalog and the column structure of one table. Failures are JSON-RPC
 * errors (as in altinity-mcp), with ClickHouse's reason in words a person understands.
 */
@Injectable()
export class McpResourcesService {
  constructor(
    private readonly config: ConfigService<GatewayConfig, true>,
    private readonly clickhouse: ClickHouseService,
  ) {}

  listResources(): Resource[] {
    return [SCHEMA_RESOURCE];
  }

  listTemplates(): ResourceTemplate[] {
    return [TABLE_TEMPLATE];
  }

  async read(ctx: McpCallContext, uri: string): Promise<ReadResourceResult> {
    if (uri === SCHEMA_URI) return this.readSchema(ctx);
    if (uri.startsWith('clickhouse://table/')) return this.readTable(ctx, uri);
    throw new JsonRpcError(ErrorCode.InvalidParams, `unknown resource "${uri}"; resources: ${SCHEMA_URI}, ${TABLE_TEMPLATE.uriTemplate}`);
  }

  private connection(ctx: McpCallContext) {
    // A multicluster request carries its cluster's ClickHouse config (the store's host is the `{cluster}` template).
    const clickhouse = ctx.connection.config?.clickhouse ?? this.config.get('clickhouse', { infer: true });
    return this.clickhouse.connectionFromConfig(clickhouse, ctx.connection.clickhouse);
  }

  private async readSchema(ctx: McpCallContext): Promise<ReadResourceResult> {
    let rows: unknown[][];
    try {
      const result = await this.clickhouse.query(this.connection(ctx), 'SELECT name, database, engine FROM system.tables ORDER BY database, name', {
        signal: ctx.signal,
        readOnly: true,
      });
      rows = result.rows;
    } catch (err) {
      throw new JsonRpcError(ErrorCode.InternalError, `failed to get schema: ${describe(err)}`);
    }
    const tables = rows.map(([name, database, engine]) => ({ name, database, engine }));
    return { contents: [{ uri: SCHEMA_URI, mimeType: 'application/json', text: structJson({ tables, count: tables.length }) }] };
  }

  private async readTable(ctx: McpCallContext, uri: string): Promise<ReadResourceResult> {
    // altinity-mcp's parsing: at least five `/` parts, database = second-to-last, table = last.
    const parts = uri.split('/');
    const database = parts.length >= 5 ? decodeSegment(parts[parts.length - 2]!) : '';
    const table = parts.length >= 5 ? decodeSegment(parts[parts.length - 1]!) : '';
    if (!database || !table) throw new JsonRpcError(ErrorCode.InvalidParams, `invalid table URI format: ${uri}`);
    const where = `FROM system.columns WHERE database = ${sqlString(database)} AND table = ${sqlString(table)}`;
    const sql = `SELECT ${COLUMN_FIELDS.join(', ')} ${where} ORDER BY position`;
    let rows: unknown[][];
    try {
      // ClickHouse 18.16 has no system.columns.position; its rows already come in definition order.
      const legacySql = `SELECT ${COLUMN_FIELDS.join(', ')} ${where}`;
      rows = (await this.clickhouse.queryCompatible(this.connection(ctx), sql, legacySql, { signal: ctx.signal, readOnly: true })).rows;
    } catch (err) {
      throw new JsonRpcError(ErrorCode.InternalError, `failed to get table structure: ${truncateErrorForClient(describe(err))}`);
    }
    if (rows.length === 0) {
      throw new JsonRpcError(ErrorCode.InvalidParams, `failed to get table structure: \`${database}\`.\`${table}\` columns not found`);
    }
    const columns = rows.map((row) => Object.fromEntries(COLUMN_FIELDS.map((f, i) => [f, row[i]])));
    return { contents: [{ uri, mimeType: 'application/json', text: structJson(columns) }] };
  }
}

/**
 * Go's MarshalIndent of structs: fields in declaration order (not sorted like maps), two-space indent,
 * leaves encoded as Go encodes them.
 */
function structJson(value: unknown, level = 0): string {
  const pad = (n: number) => `\n${'  '.repeat(n)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${value.map((v) => pad(level + 1) + structJson(v, level + 1)).join(',')}${pad(level)}]`;
  }
  if (value !== null && typeof value === 'object' && value.constructor === Object) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    return `{${entries.map(([k, v]) => `${pad(level + 1)}${goJsonString(k)}: ${structJson(v, level + 1)}`).join(',')}${pad(level)}}`;
  }
  return goJsonValue(value);
}

/** A percent-decoded URI segment; a malformed escape (`%zz`) makes it empty, i.e. an invalid URI. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

function describe(err: unknown): string {
  return err instanceof ClickHouseQueryError ? err.userMessage : ((err as Error)?.message ?? String(err));
}
