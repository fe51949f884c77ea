import { ClickHouseQueryError } from '../../../clickhouse/clickhouse-error.js';
import type { ConnectionSpec } from '../../../clickhouse/clickhouse.types.js';
import type { ConnectionOverrides } from '../../../common/request-context.js';
import type { ClickHouseConfig } from '../../../config/config.types.js';
import type { ConnectionProbe, ProbeOutcome } from './clickhouse-identity.js';

/** The two things a probe needs from `ClickHouseService`. */
export interface ProbeTarget {
  connectionFromConfig(cfg: ClickHouseConfig, overrides?: ConnectionOverrides): ConnectionSpec;
  ping(conn: ConnectionSpec, opts?: { timeoutMs?: number }): Promise<void>;
}

/** ClickHouse codes that mean "this credential is refused" (ACCESS_DENIED, AUTHENTICATION_FAILED, NOT_ENOUGH_PRIVILEGES). */
const AUTH_REFUSAL_CODES: ReadonlySet<number> = new Set([497, 516, 519]);

/**
 * A probe that pings the operator's ClickHouse with the candidate credential, through the gateway's own
 * client (same TLS, `connect_host`, headers and pool). The verdict uses the structured error where there is
 * one — HTTP 401/403 or an auth code — rather than a substring of the text, so a port number such as 14010 in a
 * "connection refused" message cannot pass for a 401 (a known flaw of the Go predicate, spec §6.2 item 8).
 */
export function clickHouseConnectionProbe(target: ProbeTarget, clickhouse: () => ClickHouseConfig, timeoutMs?: number): ConnectionProbe {
  return async (overrides): Promise<ProbeOutcome> => {
    try {
      await target.ping(target.connectionFromConfig(clickhouse(), overrides), timeoutMs === undefined ? {} : { timeoutMs });
      return { ok: true };
    } catch (err) {
      if (!(err instanceof ClickHouseQueryError)) return { ok: false, message: err instanceof Error ? err.message : String(err) };
      const refused =
        err.kind === 'auth_failed' ||
        err.httpStatus === 401 ||
        err.httpStatus === 403 ||
        (err.code !== undefined && AUTH_REFUSAL_CODES.has(err.code));
      const code = err.code === undefined ? '' : `code: ${err.code}, `;
      return { ok: false, authRefused: refused, message: `${code}${err.serverMessage || err.userMessage}` };
    }
  };
}
