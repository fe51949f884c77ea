/**
 * Cluster names of `/mcp/{cluster}` (auth spec §3.3): an RFC 1123 DNS label, lowercase, 1–63 characters. The name
 * is spliced into `clickhouse.host`, so nothing that could change the host's shape — a dot, a slash, a colon, a
 * percent-escape, upper case — ever passes. No dependencies: the config validation uses it too.
 */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isValidClusterName(name: string): boolean {
  return CLUSTER_NAME_PATTERN.test(name);
}

/** The placeholder of `clickhouse.host` that a cluster name replaces. */
export const CLUSTER_PLACEHOLDER = '{cluster}';
