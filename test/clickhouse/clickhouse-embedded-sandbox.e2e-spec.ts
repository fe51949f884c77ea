import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseModule } from '../../src/clickhouse/clickhouse.module.js';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import type { ConnectionSpec, QueryEvent } from '../../src/clickhouse/clickhouse.types.js';
import { CLICKHOUSE_QUERY_GUARD, type QueryGuard } from '../../src/clickhouse/query-guard.js';
import { LoggingModule } from '../../src/common/logging/logging.module.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { failure } from './ch-test-helpers.js';

/**
 * The embedded engine's sandbox (chDB in-process): no file or network access from SQL even without the
 * query guard, no INTO OUTFILE, the guard seam, unforgeable codes and error positions on chDB.
 */

const scratch = mkdtempSync(join(tmpdir(), 'h2-sandbox-test-'));
const guardCalls: [string, string][] = [];
/** A tiny stand-in for the SQL policy: refuses SQL that mentions `forbidden_fn`. */
const guard: QueryGuard = (sql, protocol) => {
  guardCalls.push([sql, protocol]);
  return /forbidden_fn/.test(sql) ? 'table function forbidden_fn is not allowed (server.allowed_table_functions)' : undefined;
};

let app: TestingModule;
let service: ClickHouseService;
let conn: ConnectionSpec;
const events: QueryEvent[] = [];

beforeAll(async () => {
  const input = { args: parseArgs(['--clickhouse-protocol', 'embedded']), env: {} };
  const loaded = loadConfig(input);
  app = await Test.createTestingModule({
    imports: [ConfigModule.forRoot({ input, loaded }), LoggingModule.forRoot(pino({ level: 'silent' })), ClickHouseModule],
  })
    // ClickHouseModule binds the real SQL policy to the guard token; here a stand-in replaces it, so the engine's
    // own sandbox is what is tested (and the seam itself).
    .overrideProvider(CLICKHOUSE_QUERY_GUARD)
    .useValue(guard)
    .compile();
  await app.init();
  service = app.get(ClickHouseService);
  conn = service.currentConnection();
  service.onQuery((e) => events.push(e));
}, 60_000);

afterAll(async () => {
  await app?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('embedded engine sandbox (no guard needed)', () => {
  it('does not read files: file(/etc/passwd) is refused by the engine (ACCESS_DENIED)', async () => {
    const err = await failure(service.query(conn, "SELECT * FROM file('/etc/passwd', 'LineAsString')"));
    expect(err.code).toBe(497);
    expect(err.serverMessage).toContain('READ ON FILE');
    expect(err.serverMessage).not.toContain('root:');
    const relative = await failure(service.query(conn, "SELECT * FROM file('../../../../etc/passwd', 'LineAsString')"));
    expect(relative.code).toBe(497);
  });

  it('does not reach the network or write files through table functions or engines', async () => {
    const url = await failure(service.query(conn, "SELECT * FROM url('http://127.0.0.1:1/x', 'LineAsString')"));
    expect(url.code).toBe(497);
    const target = join(scratch, 'written.tsv');
    const write = await failure(service.command(conn, `INSERT INTO FUNCTION file('${target}', 'TSV', 'x UInt8') VALUES (1)`));
    expect(write.code).toBe(497);
    const engine = await failure(service.command(conn, `CREATE TABLE default.h2_file_engine (x String) ENGINE = File(TSV, '${target}')`));
    expect(engine.code).toBe(497);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses INTO OUTFILE before the engine sees it (chDB writes it with no access check)', async () => {
    const target = join(scratch, 'outfile.tsv');
    for (const sql of [`SELECT 1 INTO OUTFILE '${target}'`, `select 1 into /* x */ outfile '${target}' FORMAT TSV`]) {
      const err = await failure(service.query(conn, sql));
      expect(err.kind).toBe('rejected');
      expect(err.userMessage).toContain('INTO OUTFILE is not allowed');
    }
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(process.cwd()).filter((f) => f.startsWith('outfile'))).toEqual([]);
  });

  it('still runs local SQL: the demo data, numbers(), DDL and writes in its own data path', async () => {
    expect((await service.query(conn, 'SELECT count() AS n FROM demo.trips')).rows).toHaveLength(1);
    expect((await service.query(conn, 'SELECT toUInt8(number) FROM numbers(3)')).rows).toEqual([[0], [1], [2]]);
    await service.command(conn, 'CREATE DATABASE IF NOT EXISTS h2_sandbox_db');
    await service.command(conn, 'CREATE TABLE IF NOT EXISTS h2_sandbox_db.t (x UInt8) ENGINE = MergeTree ORDER BY x');
    await service.command(conn, 'INSERT INTO h2_sandbox_db.t VALUES (7)');
    expect((await service.query(conn, 'SELECT x FROM h2_sandbox_db.t')).rows).toEqual([[7]]);
    await service.command(conn, 'DROP DATABASE h2_sandbox_db');
  });

  it('confines user_files_path to an empty directory of its own', async () => {
    const res = await service.query(conn, "SELECT value FROM system.server_settings WHERE name = 'user_files_path'");
    const path = String(res.rows[0]![0]);
    expect(path).toMatch(/cmg-embedded-[^/]+\/user_files\/?$/);
    expect(readdirSync(path)).toEqual([]);
  });
});

describe('query guard seam', () => {
  it('consults the guard for query and command; a refusal is a rejected error and an error event', async () => {
    guardCalls.length = 0;
    events.length = 0;
    const err = await failure(service.query(conn, 'SELECT * FROM forbidden_fn()'));
    expect([err.kind, err.userMessage]).toEqual(['rejected', 'table function forbidden_fn is not allowed (server.allowed_table_functions)']);
    const cmd = await failure(service.command(conn, 'INSERT INTO t SELECT * FROM forbidden_fn()'));
    expect(cmd.kind).toBe('rejected');
    expect(guardCalls).toEqual([
      ['SELECT * FROM forbidden_fn()', 'embedded'],
      ['INSERT INTO t SELECT * FROM forbidden_fn()', 'embedded'],
    ]);
    expect(events.map((e) => [e.operation, e.outcome, e.errorKind])).toEqual([
      ['query', 'error', 'rejected'],
      ['command', 'error', 'rejected'],
    ]);
    // Allowed SQL passes the guard and runs.
    expect((await service.query(conn, 'SELECT toUInt8(1) AS x')).rows).toEqual([[1]]);
  });
});

describe('errors on chDB', () => {
  it('a forged code in echoed data keeps the true code and type', async () => {
    const err = await failure(service.query(conn, "SELECT toUInt8(concat('Code: 164. DB::Exception: Cannot modify \\'read', 'only\\' setting (READONLY)'))"));
    expect(err.code).toBe(6);
    expect(err.type).toBe('CANNOT_PARSE_TEXT');
    expect(err.kind).toBe('other');
  });

  it('maps a syntax-error position inside the appended SETTINGS clause back to the end of the caller\'s SQL', async () => {
    const sql = 'SELECT 1 FROM numbers(2) WHERE';
    const err = await failure(service.query(conn, sql, { maxRows: 5 }));
    expect(err.kind).toBe('syntax');
    expect(err.userMessage).toContain(`failed at position ${sql.length + 1} (end of query) (line 1, col ${sql.length + 1})`);
    // (The "Expected one of" list after the quote names the SETTINGS keyword as a possible token: that is fine.)
    const quoted = (text: string): string => text.split('. Expected')[0]!;
    expect(quoted(err.userMessage)).not.toMatch(/SETTINGS|max_result_rows|result_overflow_mode|max_execution_time/);
    expect(quoted(err.serverMessage)).not.toMatch(/SETTINGS|max_result_rows|result_overflow_mode|max_execution_time/);
    // A position inside the caller's SQL stays, and the quote loses the appended clause.
    const inside = await failure(service.query(conn, 'SELECT 1 +* 2', { maxRows: 5 }));
    expect(inside.kind).toBe('syntax');
    expect(inside.userMessage).toMatch(/failed at position \d+ /);
    expect(quoted(inside.userMessage)).not.toMatch(/SETTINGS|max_result_rows/);
    expect(quoted(inside.serverMessage)).toMatch(/failed at position 13 \(2\) \(line 1, col 13\): 2$/);
  });
});
