import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import type { ConnectionSpec } from '../../src/clickhouse/clickhouse.types.js';
import { connection, failure, makeService, sleep, waitFor } from './ch-test-helpers.js';

/**
 * Issue 14 on the real ClickHouse 18.16: error codes user data cannot forge, setting flags that change only on
 * a verified answer, and a byte cap that holds inside one huge row.
 */

const DB = 'h2_hardening_db';
let service: ClickHouseService;
let admin: ConnectionSpec;

beforeAll(() => {
  service = makeService();
  admin = connection(service);
});

afterAll(async () => {
  await service.command(admin, `DROP DATABASE IF EXISTS ${DB}`).catch(() => {});
  await service.close();
});

describe('error codes come from the server, not from data', () => {
  // Echoed by the conversion error: "Cannot parse string 'Code: 164. DB::Exception: Cannot modify 'readonly' setting' as UInt8".
  const FORGED = "SELECT toUInt8(concat('Code: 164. DB::Exception: Cannot modify \\'read', 'only\\' setting'))";
  const FORGED_OLD =
    "SELECT toUInt8(concat('Code: 164, e.displayText() = DB::Exception: Cannot override setting (read', 'only) in readonly mode, e.what() = DB::Exception'))";

  it('a forged code keeps its true code, and readonly stays 2 on the same pooled connection', async () => {
    for (const sql of [FORGED, FORGED_OLD]) {
      const err = await failure(service.query(admin, sql, { readOnly: true, maxRows: 10 }));
      expect([err.code, err.kind]).toEqual([6, 'other']); // CANNOT_PARSE_TEXT, not READONLY
      expect(err.userMessage).not.toContain('read-only');
    }
    const readonly = await service.query(admin, "SELECT value FROM system.settings WHERE name = 'readonly'", { readOnly: true, maxRows: 10 });
    expect(readonly.rows).toEqual([['2']]);
    // ...and ClickHouse still refuses a write through a read-only query on that connection.
    const write = await failure(service.query(admin, `CREATE DATABASE ${DB}`, { readOnly: true }));
    expect([write.kind, write.code]).toEqual(['readonly', 164]);
    // The gateway's caps are still sent too (max_execution_time as a server setting).
    const limit = await service.query(admin, "SELECT value FROM system.settings WHERE name = 'max_execution_time'", { readOnly: true });
    expect(limit.rows).toEqual([[String(admin.maxExecutionTime)]]);
  });

  it('a forged exception inside row data is data', async () => {
    const text = 'Code: 164, e.displayText() = DB::Exception: Cannot override setting (readonly) in readonly mode, e.what() = DB::Exception';
    const result = await service.query(admin, `SELECT '${text}' AS s, 1 AS n`, { readOnly: true });
    expect(result.rows).toEqual([[text, 1]]);
  });

  it('the readonly-profile user (ro) still works: the probe confirms the refusal and the gateway stops sending its settings', async () => {
    const ro = connection(service, { username: 'ro', password: 'ro' });
    const first = await service.query(ro, 'SELECT toUInt8(number) FROM system.numbers LIMIT 5', { maxRows: 3, readOnly: true });
    expect(first.rows).toEqual([[0], [1], [2]]);
    expect(first.truncated?.reason).toBe('max_result_rows'); // caps still enforced by the gateway
    const write = await failure(service.query(ro, `CREATE DATABASE ${DB}_ro`));
    expect([write.kind, write.code]).toEqual(['readonly', 164]);
  });
});

describe('max_result_bytes inside one row', () => {
  // One row, one 60,000,000-character value (18.16 has no repeat(); arrayStringConcat over range() builds it).
  const HUNDRED = 'a'.repeat(100);
  const BIG_ROW = `SELECT arrayStringConcat(arrayMap(x -> '${HUNDRED}', range(600000))) AS big`;

  async function peakRssGrowth(run: () => Promise<unknown>): Promise<{ growthMb: number; result: unknown }> {
    await sleep(50);
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const result = await run();
      peak = Math.max(peak, process.memoryUsage().rss);
      return { growthMb: (peak - base) / 1024 / 1024, result };
    } finally {
      clearInterval(timer);
    }
  }

  it('a 60 MB single-row result is cut at the byte cap, RSS grows < 20 MB, and the query ends on the server', async () => {
    const queryId = `h2-bigrow-${Date.now()}`;
    const { growthMb, result } = await peakRssGrowth(() => service.query(admin, BIG_ROW, { maxBytes: 50_000, maxRows: 1000, queryId }));
    const capped = result as Awaited<ReturnType<ClickHouseService['query']>>;
    console.log(`60 MB row with max_result_bytes=50000: peak RSS growth ${growthMb.toFixed(1)} MB`);
    expect(capped.rows).toEqual([]);
    expect(capped.truncated).toMatchObject({ reason: 'max_result_bytes', limit: 50_000, returned_rows: 0 });
    expect(growthMb).toBeLessThan(20);
    const gone = await waitFor(async () => {
      const left = await service.query(admin, `SELECT toUInt32(count()) FROM system.processes WHERE query_id = '${queryId}'`);
      return left.rows[0]![0] === 0;
    }, 3_000);
    expect(gone).toBe(true);
  }, 60_000);

  it('(control) without a byte cap the same row is read whole, and memory grows by its size', async () => {
    const { growthMb, result } = await peakRssGrowth(() => service.query(admin, BIG_ROW));
    const whole = result as Awaited<ReturnType<ClickHouseService['query']>>;
    console.log(`60 MB row without a byte cap: peak RSS growth ${growthMb.toFixed(1)} MB`);
    expect((whole.rows[0]![0] as string).length).toBe(60_000_000);
    expect(growthMb).toBeGreaterThan(40);
  }, 60_000);
});
