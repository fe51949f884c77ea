import type { SqlPolicy } from '../sql/sql-policy.js';
import type { GatewayConfig } from './config.types.js';

/**
 * The SQL policy (src/sql/sql-policy.ts) a configuration asks for, on a connection of the given protocol.
 * One mapping for both walls: the tools' check pipeline and the data layer's guard.
 */
export function sqlPolicyFor(server: GatewayConfig['server'], protocol: GatewayConfig['clickhouse']['protocol']): SqlPolicy {
  return {
    allowedTableFunctions: server.allowed_table_functions,
    embedded: protocol === 'embedded',
    protectedSettings: server.protected_settings,
  };
}
