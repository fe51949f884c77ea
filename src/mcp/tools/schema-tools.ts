import { Injectable } from '@nestjs/common';
import { ClickHouseQueryError } from '../../clickhouse/clickhouse-error.js';
import { ClickHouseService } from '../../clickhouse/clickhouse.service.js';
import type { ConnectionSpec } from '../../clickhouse/clickhouse.types.js';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../../config/config.types.js';
import { checkUnknownArguments, normalizeArguments } from './arguments.js';
import { sqlString } from '../../sql/sql-literals.js';
import { toolError } from './result-format.js';
import type { JsonSchema, McpToolDefinition, ToolCallResult } from './tool-types.js';

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, openWorldHint: false };
const SYSTEM_DATABASES = ['system', 'INFORMATION_SCHEMA', 'information_schema'];

function tool(name: string, title: string, description: string, properties: Record<string, JsonSchema>, required: string[] = []): McpToolDefinition {
  return { name, title, description, annotations: READ_ONLY, inputSchema: { type: 'object', properties, required, additionalProperties: false } };
}

const DEFINITIONS: McpToolDefinition[] = [
  tool('list_databases', 'List Databases', 'Lists the ClickHouse databases this connection can see.', {}),
  tool(
    'list_tables',
    'List Tables',
    'Lists the tables and views of a database with their engine, and row counts and comments where the server keeps them. Paginated: pass next_page_token back as page_token.',
    {
      database: { type: 'string', description: 'Database name (default: the configured database)' },
      like: { type: 'string', description: "Only tables whose name matches this SQL LIKE pattern, e.g. 'events%'" },
      page_size: { type: 'integer', minimum: 1, maximum: 500, description: 'Tables per page (default 100)' },
      page_token: { type: 'string', description: 'next_page_token from the previous page' },
    },
  ),
  tool(
    'describe_table',
    'Describe Table',
    'Shows the columns of a table (types, defaults, comments) and its engine, sorting, primary and partition keys.',
    {
      database: { type: 'string', description: 'Database name (default: the configured database)' },
      table: { type: 'string', description: 'Table name' },
    },
    ['table'],
  ),
  tool(
    'search_schema',
    'Search Schema',
    'Finds tables and columns whose name or comment contains the given text (case-insensitive), across all non-system databases.',
    {
      query: { type: 'string', description: 'Text to look for in table and column names and comments' },
      limit: { type: 'integer', minimum: 1, maximum: 200, description: 'Most matches to return (default 50)' },
    },
    ['query'],
  ),
];
const NAMES = DEFINITIONS.map((d) => d.name);

type Args = Record<string, unknown>;
class ArgumentError extends Error {}
/** A valid request about something that is not there (answered as a plain tool error, not an argument error). */
class NotFoundError extends Error {}

function optionalString(args: Args, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ArgumentError(`${name} must be a string`);
  return v;
}

function requiredString(args: Args, name: string): string {
  const v = optionalString(args, name);
  if (v === undefined || v.trim() === '') throw new ArgumentError(`${name} is required and must be a non-empty string`);
  return v;
}

function optionalInt(args: Args, name: string, min: number, max: number, fallback: number): number {
  const v = args[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ArgumentError(`${name} must be an integer from ${min} to ${max}`);
  return v;
}

/**
 * Schema discovery tools (`server.schema_tools: true`), which altinity-mcp users ask for (its issue #151) and
 * mcp-clickhouse offers: the model learns the schema without writing system-table SQL. They work on
 * ClickHouse 18.16, whose system tables lack comments and row counts, and on current servers.
 */
@Injectable()
export class SchemaTools {
  constructor(
    private readonly clickhouse: ClickHouseService,
    private readonly config: ConfigService<GatewayConfig, true>,
  ) {}

  definitions(): McpToolDefinition[] {
    return DEFINITIONS;
  }

  names(): string[] {
    return NAMES;
  }

  async call(name: string, rawArgs: unknown, conn: ConnectionSpec, signal: AbortSignal): Promise<ToolCallResult> {
    const normalized = normalizeArguments(rawArgs);
    if (!normalized.ok) return toolError(normalized.message);
    const args = normalized.value;
    const definition = DEFINITIONS.find((d) => d.name === name)!;
    const allowed = Object.keys(definition.inputSchema.properties);
    const unknown = checkUnknownArguments(args, allowed);
    if (unknown) return toolError(unknown);
    const rows = async (sql: string, legacySql?: string): Promise<unknown[][]> =>
      (legacySql
        ? await this.clickhouse.queryCompatible(conn, sql, legacySql, { signal, readOnly: true })
        : await this.clickhouse.query(conn, sql, { signal, readOnly: true })
      ).rows;
    try {
      const payload = await this.run(name, args, rows);
      return { content: [{ type: 'text', text: JSON.stringify(payload, null, 2) }] };
    } catch (err) {
      if (err instanceof ArgumentError) return toolError(`Invalid arguments: ${err.message}`);
      if (err instanceof NotFoundError) return toolError(err.message);
      const message = err instanceof ClickHouseQueryError ? err.userMessage : (err as Error).message;
      return toolError(`Query execution failed: ${message}`);
    }
  }

  private async run(name: string, args: Args, rows: (sql: string, fallback?: string) => Promise<unknown[][]>): Promise<unknown> {
    const defaultDb = this.config.get('clickhouse.database', { infer: true });
    switch (name) {
      case 'list_databases': {
        const found = await rows(
          'SELECT name, engine, comment FROM system.databases ORDER BY name',
          "SELECT name, engine, '' FROM system.databases ORDER BY name",
        );
        return { databases: found.map(([n, engine, comment]) => ({ name: n, engine, ...(comment ? { comment } : {}) })) };
      }
      case 'list_tables': {
        const database = optionalString(args, 'database') ?? defaultDb;
        const like = optionalString(args, 'like');
        const pageSize = optionalInt(args, 'page_size', 1, 500, 100);
        const offset = decodePageToken(optionalString(args, 'page_token'), database, like);
        const where = `WHERE database = ${sqlString(database)}${like ? ` AND name LIKE ${sqlString(like)}` : ''}`;
        const tail = `${where} ORDER BY name LIMIT ${pageSize + 1} OFFSET ${offset}`;
        const found = await rows(
          `SELECT name, engine, total_rows, comment FROM system.tables ${tail}`,
          `SELECT name, engine, NULL, '' FROM system.tables ${tail}`,
        );
        const page = found.slice(0, pageSize).map(([n, engine, totalRows, comment]) => ({
          name: n,
          engine,
          ...(totalRows !== null && totalRows !== undefined ? { total_rows: totalRows } : {}),
          ...(comment ? { comment } : {}),
        }));
        const more = found.length > pageSize;
        return { database, tables: page, ...(more ? { next_page_token: encodePageToken(offset + pageSize, database, like) } : {}) };
      }
      case 'describe_table': {
        const database = optionalString(args, 'database') ?? defaultDb;
        const table = requiredString(args, 'table');
        const at = `database = ${sqlString(database)} AND name = ${sqlString(table)}`;
        const meta = await rows(
          `SELECT engine, sorting_key, primary_key, partition_key, comment FROM system.tables WHERE ${at}`,
          `SELECT engine, sorting_key, primary_key, partition_key, '' FROM system.tables WHERE ${at}`,
        );
        if (meta.length === 0) throw new NotFoundError(`table ${database}.${table} does not exist or is not visible to this user`);
        const [engine, sortingKey, primaryKey, partitionKey, comment] = meta[0]!;
        const colWhere = `FROM system.columns WHERE database = ${sqlString(database)} AND table = ${sqlString(table)}`;
        const columns = await rows(
          `SELECT name, type, default_kind, default_expression, comment ${colWhere} ORDER BY position`,
          `SELECT name, type, default_kind, default_expression, comment ${colWhere}`,
        );
        return {
          database,
          table,
          engine,
          sorting_key: sortingKey,
          primary_key: primaryKey,
          partition_key: partitionKey,
          ...(comment ? { comment } : {}),
          columns: columns.map(([n, type, kind, expr, c]) => ({
            name: n,
            type,
            ...(kind ? { default_kind: kind, default_expression: expr } : {}),
            ...(c ? { comment: c } : {}),
          })),
        };
      }
      case 'search_schema': {
        const text = requiredString(args, 'query');
        const limit = optionalInt(args, 'limit', 1, 200, 50);
        const needle = sqlString(text);
        const notSystem = `database NOT IN (${SYSTEM_DATABASES.map(sqlString).join(', ')})`;
        // limit + 1 rows from each query, so that `truncated` also sees matches past the limit of one kind.
        const tables = await rows(
          `SELECT database, name, engine, comment FROM system.tables WHERE ${notSystem} AND (positionCaseInsensitiveUTF8(name, ${needle}) > 0 OR positionCaseInsensitiveUTF8(comment, ${needle}) > 0) ORDER BY database, name LIMIT ${limit + 1}`,
          `SELECT database, name, engine, '' FROM system.tables WHERE ${notSystem} AND positionCaseInsensitiveUTF8(name, ${needle}) > 0 ORDER BY database, name LIMIT ${limit + 1}`,
        );
        const columns = await rows(
          `SELECT database, table, name, type, comment FROM system.columns WHERE ${notSystem} AND (positionCaseInsensitiveUTF8(name, ${needle}) > 0 OR positionCaseInsensitiveUTF8(comment, ${needle}) > 0) ORDER BY database, table, name LIMIT ${limit + 1}`,
        );
        const matches = [
          ...tables.map(([database, n, engine, c]) => ({ kind: 'table', database, table: n, engine, ...(c ? { comment: c } : {}) })),
          ...columns.map(([database, t, n, type, c]) => ({ kind: 'column', database, table: t, column: n, type, ...(c ? { comment: c } : {}) })),
        ].slice(0, limit);
        return { query: text, matches, truncated: tables.length + columns.length > limit };
      }
      default:
        throw new ArgumentError(`unknown schema tool ${name}`);
    }
  }
}

/** Page tokens carry the offset and the filter they belong to, so a token cannot be replayed on another listing. */
function encodePageToken(offset: number, database: string, like: string | undefined): string {
  return Buffer.from(JSON.stringify({ o: offset, d: database, l: like ?? '' })).toString('base64url');
}

function decodePageToken(token: string | undefined, database: string, like: string | undefined): number {
  if (token === undefined || token === '') return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o: unknown; d: unknown; l: unknown };
    if (Number.isSafeInteger(parsed.o) && (parsed.o as number) >= 0 && parsed.d === database && parsed.l === (like ?? '')) return parsed.o as number;
  } catch {
    // fall through
  }
  throw new ArgumentError('page_token is not valid for this listing (pass next_page_token from the previous page with the same database and like)');
}
