/**
 * Which table functions a query may use.
 *
 * ClickHouse's `readonly = 2` still permits table functions, and many of them leave the server: `url()`,
 * `s3()`, `remote()`, `mysql()`… reach any host the ClickHouse server can reach (cloud metadata at
 * 169.254.169.254, internal services), `file()` reads the server's files, `executable()` runs a program.
 * A model steered by prompt injection could use them to copy data out or probe the network, so only table
 * functions that read data already on the server (or generate it) are allowed by default; everything else
 * needs an operator's `server.allowed_table_functions`.
 */

/**
 * Table functions allowed without configuration. Each reads data that is already on the server, or makes
 * it up, and takes no host, path or program:
 * - `numbers`, `numbers_mt`, `zeros`, `zeros_mt`, `generate_series` / `generateSeries`: number sequences;
 * - `generateRandom`: random rows of a given structure;
 * - `values`, `format`, `null`: rows from the query text itself / an empty table of a given structure;
 * - `view`, `viewIfPermitted`: a subquery as a table (the subquery is checked like any other SQL);
 * - `merge`: local tables whose names match a pattern (same access rules as reading them directly);
 * - `dictionary`: a dictionary the operator defined (its source is the operator's choice, not the caller's);
 * - `mergeTreeIndex`: the index of a local MergeTree table.
 * Deliberately not here: `loop` (wraps another table function), `input` (reads the request body of an
 * INSERT), `cluster*` / `remote*` (other servers), and anything unknown to this list.
 */
export const DEFAULT_ALLOWED_TABLE_FUNCTIONS: readonly string[] = [
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'generate_series',
  'generateSeries',
  'generateRandom',
  'values',
  'format',
  'null',
  'view',
  'viewIfPermitted',
  'merge',
  'dictionary',
  'mergeTreeIndex',
];

/**
 * Names that reach a network, another server, a bridge, a program or a file, in any case: table functions,
 * table engines (`ENGINE = URL(…)`), dictionary sources (`SOURCE(HTTP(…))`) and scalar functions that read
 * files (`file()`, `catboostEvaluate()`). A call `name(` with one of these names is refused anywhere in the
 * query text, not only in table position. No ordinary scalar function has one of these names.
 */
const OUTBOUND_NAMES: ReadonlySet<string> = new Set(
  [
    'url', 'urlcluster', 'file', 'filecluster', 's3', 's3cluster', 's3queue', 'gcs', 'gcscluster', 'oss', 'osscluster', 'cosn',
    'remote', 'remotesecure', 'cluster', 'clusterallreplicas', 'distributed', 'externaldistributed',
    'mysql', 'postgresql', 'postgres', 'materializedpostgresql', 'materializedmysql', 'mongodb', 'mongo', 'redis', 'sqlite',
    'jdbc', 'odbc', 'hdfs', 'hdfscluster', 'hive', 'azureblobstorage', 'azureblobstoragecluster', 'azurequeue',
    'kafka', 'rabbitmq', 'nats', 'executable', 'executablepool', 'executable_pool', 'arrowflight', 'ytsaurus',
    'http', 'clickhouse', 'cassandra', 'catboostpool', 'catboostevaluate', 'modelevaluate', 'prometheusquery',
    'objectstorage', 'datalake',
  ],
);

/** Families with many variants (`icebergS3Cluster`, `deltaLakeAzure`, `paimonHDFS`…), all outbound. */
const OUTBOUND_FAMILY = /^(iceberg|deltalake|hudi|paimon|azure|s3|hdfs|gcs|oss|url|remote|cluster)[a-z0-9_]*$/i;

/** True when `name` (any case) reaches outside the server's own data. */
export function isOutboundName(name: string): boolean {
  const lower = name.toLowerCase();
  return OUTBOUND_NAMES.has(lower) || (OUTBOUND_FAMILY.test(lower) && !SCALAR_LOOKALIKES.has(lower));
}

/** Scalar functions whose names happen to start like an outbound family (`URLHierarchy`…): never refused for that. */
const SCALAR_LOOKALIKES: ReadonlySet<string> = new Set(['urlhierarchy', 'urlpathhierarchy']);

/** The allowlist in effect: the built-in names, the operator's additions, or everything (`*`). */
export interface TableFunctionAllowlist {
  /** `*` was configured (altinity-mcp compatible: no table-function policy at all). */
  allowAll: boolean;
  /** Lower-cased names allowed in table position. */
  names: ReadonlySet<string>;
}

/**
 * The effective allowlist for `server.allowed_table_functions`. On the embedded engine (ClickHouse inside
 * the gateway process) outbound names and `*` are ignored: there the server's files are the gateway's.
 */
export function tableFunctionAllowlist(configured: readonly string[], embedded: boolean): TableFunctionAllowlist {
  const names = new Set(DEFAULT_ALLOWED_TABLE_FUNCTIONS.map((n) => n.toLowerCase()));
  let allowAll = false;
  for (const raw of configured) {
    const name = raw.trim();
    if (name === '*') allowAll = !embedded;
    else if (name !== '' && !(embedded && isOutboundName(name))) names.add(name.toLowerCase());
  }
  return { allowAll, names };
}

/** The refusal for a table function that is not allowed. */
export function tableFunctionRefusal(name: string, embedded: boolean): string {
  if (embedded && isOutboundName(name)) {
    return `Query rejected: ${name}() is not allowed on the embedded engine (it reaches the network or files, and the engine runs inside the gateway)`;
  }
  const why = isOutboundName(name) ? 'it reaches the network or files' : 'it is not a known local-data table function';
  return `Query rejected: table function ${name}() is not allowed (${why}); an operator can allow it with server.allowed_table_functions`;
}
