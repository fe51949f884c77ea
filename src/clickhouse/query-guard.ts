/**
 * A seam for refusing SQL before the data layer sends it. The SQL policy (table functions, INTO OUTFILE,
 * protected settings; see `src/sql/`) is bound to this token by the application module; the data layer then
 * consults it on every `query`/`command`, whatever path the SQL came by. A refusal becomes a
 * ClickHouseQueryError of kind `rejected` whose message is the reason.
 */
export const CLICKHOUSE_QUERY_GUARD = Symbol('CLICKHOUSE_QUERY_GUARD');

/** Returns why `sql` must not run on a connection of this protocol, or undefined when it may. */
export type QueryGuard = (sql: string, protocol: 'http' | 'embedded') => string | undefined;
