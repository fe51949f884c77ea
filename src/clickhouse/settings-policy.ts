import type { ClickHouseSettings } from '@clickhouse/client';
import type { Logger } from 'pino';
import { type ClickHouseQueryError, type ErrorContext, fromHttpError, readonlySettingName, toClickHouseError } from './clickhouse-error.js';
import type { ConnectionSpec, QueryOptions } from './clickhouse.types.js';
import type { PooledClient } from './client-pool.js';
import { describeConnection } from './connection-spec.js';
import { readText } from './response-text.js';
import { acceptsSettingsClause, appendSettingsClause } from './sql-text.js';

type Settings = Record<string, string>;

export interface Prepared {
  /** The SQL as sent (on the embedded engine it may end in the gateway's own `SETTINGS` clause). */
  sql: string;
  settings: ClickHouseSettings;
  /** The gateway's own settings that went out (a verified 164 naming one of them is retried without). */
  own: Settings;
  /** The text the gateway appended to the caller's SQL, if any (to keep it out of error messages). */
  appended?: string;
}

export type PrepareMode = 'select' | 'query' | 'command';

/**
 * Which settings go out with a request, and what the gateway learns about a user that may not change them.
 *
 * The gateway's own settings (`max_execution_time`, the result caps, `readonly=2`) are dropped for a client
 * only on a verified answer: when ClickHouse refuses one of them (code 164 naming it), the same credentials
 * are asked `SELECT 1` with just that setting, and only a refusal of that probe sets the client's flag. The
 * text of the first error can quote user data (`Cannot parse string 'Cannot override setting (readonly) …'`),
 * so it alone never switches a setting off.
 */
export class SettingsPolicy {
  constructor(
    private readonly log: Logger,
    private readonly errorContext: (spec: ConnectionSpec, queryId: string) => ErrorContext,
  ) {}

  /** Builds the SQL and the settings of one request. */
  prepare(conn: ConnectionSpec, pooled: PooledClient, sql: string, opts: QueryOptions, mode: PrepareMode): Prepared {
    const own: Settings = {};
    if (conn.maxExecutionTime > 0) own.max_execution_time = String(conn.maxExecutionTime);
    const caller: Settings = { ...conn.settings, ...opts.settings };
    const caps: Settings = {};
    if (mode === 'select' && ((opts.maxRows ?? 0) > 0 || (opts.maxBytes ?? 0) > 0)) {
      // altinity-mcp: result_overflow_mode='break' plus the caps as they are; ClickHouse stops between blocks,
      // so it delivers past the cap and the row loop sees the overshoot that marks truncation.
      caps.result_overflow_mode = 'break';
      if ((opts.maxRows ?? 0) > 0) caps.max_result_rows = String(opts.maxRows);
      if ((opts.maxBytes ?? 0) > 0) caps.max_result_bytes = String(opts.maxBytes);
    }
    const readOnly = conn.readOnly || opts.readOnly === true;

    if (conn.protocol === 'embedded') {
      // No clickhouse_settings: chDB would turn them into sticky SETs. Only SELECT/WITH take an inline clause.
      const inline = { ...own, ...caller, ...caps };
      const text = mode !== 'command' && acceptsSettingsClause(sql) ? appendSettingsClause(sql, inline) : sql;
      const settings: ClickHouseSettings = mode === 'command' ? {} : { default_format: 'JSONCompact' };
      return { sql: text, settings, own: {}, ...(text !== sql ? { appended: text.slice(text.lastIndexOf('\nSETTINGS ')) } : {}) };
    }

    const settings: ClickHouseSettings = mode === 'command' ? { wait_end_of_query: 1 } : { default_format: 'JSONCompact' };
    const sentOwn: Settings = {};
    const put = (values: Settings, isOwn: boolean): void => {
      for (const [k, v] of Object.entries(values)) {
        (settings as Record<string, unknown>)[k] = v;
        if (isOwn) sentOwn[k] = v;
        else delete sentOwn[k];
      }
    };
    if (!pooled.settingsForbidden) put(own, true);
    put(caller, false);
    if (!pooled.settingsForbidden) put(caps, true);
    // readonly=2: reads only, but settings may still change (a SETTINGS clause in the SQL, the caller's settings),
    // except `readonly` itself. With readonly=1 modern servers refuse every SETTINGS clause; altinity-mcp sends none.
    if (readOnly && !pooled.settingsForbidden && !pooled.readonlyForbidden) put({ readonly: '2' }, true);
    return { sql, settings, own: sentOwn };
  }

  /**
   * A user whose profile is read-only may not change any setting (code 164 "Cannot override setting (x) in
   * readonly mode"). When x is one of the gateway's own settings and a probe with just that setting is refused
   * the same way, remember it for this client and tell the caller to retry without them: the caps are still
   * enforced while reading the rows. Resolves false when nothing was learnt (the error stands).
   */
  async dropForbiddenSetting(error: ClickHouseQueryError, pooled: PooledClient, own: Settings, sql: string): Promise<boolean> {
    if (error.code !== 164) return false;
    const name = readonlySettingName(error.serverMessage);
    if (!name || !(name in own)) return false;
    // The SQL may change settings itself (`SETTINGS readonly = 0`): a refusal of a setting the SQL names is
    // the answer to the SQL, not proof that the profile is read-only.
    if (new RegExp(`\\b${name}\\b`, 'i').test(sql)) return false;
    if (!(await this.refusedOnItsOwn(pooled, name, own[name]!))) {
      this.log.warn({ ...describeConnection(pooled.spec), setting: name }, 'ClickHouse error named a setting the server accepts on its own; gateway settings kept');
      return false;
    }
    if (name === 'readonly') pooled.readonlyForbidden = true;
    else pooled.settingsForbidden = true;
    this.log.info(
      { ...describeConnection(pooled.spec), setting: name },
      'ClickHouse user may not change settings; sending none of the gateway\'s own (caps stay enforced by the gateway)',
    );
    return true;
  }

  /** The probe: `SELECT 1` with only `name = value`, same credentials. True when ClickHouse refuses that setting. */
  private async refusedOnItsOwn(pooled: PooledClient, name: string, value: string): Promise<boolean> {
    const ctx = this.errorContext(pooled.spec, 'settings-probe');
    try {
      const res = await pooled.client.exec({
        query: 'SELECT 1',
        clickhouse_settings: { [name]: value, default_format: 'TabSeparated' } as ClickHouseSettings,
        ignore_error_response: true,
      });
      const body = await readText(res.stream, 64 * 1024);
      const status = res.http_status_code ?? 200;
      const header = res.response_headers['x-clickhouse-exception-code'];
      if (status === 200 && header === undefined) return false;
      const probe = fromHttpError(status, body, ctx, header);
      return probe.code === 164 && readonlySettingName(probe.serverMessage) === name;
    } catch (err) {
      const probe = toClickHouseError(err, ctx);
      return probe.code === 164 && readonlySettingName(probe.serverMessage) === name;
    }
  }
}
