import type { FactoryProvider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import { sqlPolicyFor } from '../config/sql-policy-config.js';
import { loadSqlParser } from '../sql/sql-parser.js';
import { findPolicyViolationCached } from '../sql/sql-policy.js';
import { CLICKHOUSE_QUERY_GUARD, type QueryGuard } from './query-guard.js';

/**
 * The data layer's last wall: the SQL policy (table functions, INTO OUTFILE / FROM INFILE, protected
 * settings) applied to every statement the gateway sends, whatever path it came by — tools, views, OpenAPI,
 * schema tools, resources, discovery. The tools' check pipeline has normally refused a violation already
 * (with the same function, so the verdict comes from its cache here). On the embedded engine the policy is
 * always on. The parser is loaded before the first query so verdicts include the real parse.
 */
export const sqlPolicyGuardProvider: FactoryProvider<QueryGuard> = {
  provide: CLICKHOUSE_QUERY_GUARD,
  inject: [ConfigService],
  useFactory: async (config: ConfigService<GatewayConfig, true>): Promise<QueryGuard> => {
    await loadSqlParser();
    return (sql, protocol) => findPolicyViolationCached(sql, sqlPolicyFor(config.get('server', { infer: true }), protocol));
  },
};
