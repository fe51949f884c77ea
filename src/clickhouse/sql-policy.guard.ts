import type { FactoryProvider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfig } from '../config/config.types.js';
import { sqlPolicyFor } from '../config/sql-policy-config.js';
import { findPolicyViolationCached } from '../sql/sql-policy.js';
import { CLICKHOUSE_QUERY_GUARD, type QueryGuard } from './query-guard.js';

/**
 * The data layer's last wall: the SQL policy (table functions, INTO OUTFILE / FROM INFILE, protected
 * settings) applied to every statement the gateway sends, whatever path it came by — tools, views, OpenAPI,
 * schema tools, resources, discovery. The tools' check pipeline has normally refused a violation already
 * (with the same function, so the verdict comes from its cache here). On the embedded engine the policy is
 * always on. The WASM parser (~20 MB resident once loaded) is not loaded here: the tools' pipeline loads it
 * with the first call it checks; until then this wall decides with the token scanner alone, the
 * conservative fallback (outbound and file functions are refused anywhere in the text under both lexers).
 */
export const sqlPolicyGuardProvider: FactoryProvider<QueryGuard> = {
  provide: CLICKHOUSE_QUERY_GUARD,
  inject: [ConfigService],
  useFactory:
    (config: ConfigService<GatewayConfig, true>): QueryGuard =>
    (sql, protocol) =>
      findPolicyViolationCached(sql, sqlPolicyFor(config.get('server', { infer: true }), protocol)),
};
