import { Test, type TestingModule } from '@nestjs/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseModule } from '../../src/clickhouse/clickhouse.module.js';
import { ClickHouseService } from '../../src/clickhouse/clickhouse.service.js';
import { type ConnectionSpec, ExactNumber } from '../../src/clickhouse/clickhouse.types.js';
import { DEMO_TRIP_COUNT } from '../../src/clickhouse/demo-data.js';
import { LoggingModule } from '../../src/common/logging/logging.module.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { failure } from './ch-test-helpers.js';

/**
 * The data layer on the embedded engine (chDB 26.x in-process): modern SQL, the demo data set, and the
 * avoidance of chDB's sticky settings. Runs the service through Nest so the module wiring is covered too.
 */

const DB = 'chmod_emb';
let app: TestingModule;
let service: ClickHouseService;
let conn: ConnectionSpec;

beforeAll(async () => {
  const input = { args: parseArgs(['--clickhouse-protocol', 'embedded']), env: {} };
  const loaded = loadConfig(input);
  app = await Test.createTestingModule({
    imports: [ConfigModule.forRoot({ input, loaded }), LoggingModule.forRoot(pino({ level: 'silent' })), ClickHouseModule],
  }).compile();
  await app.init(); // onModuleInit seeds the demo data into the :memory: engine
  service = app.get(ClickHouseService);
  conn = service.currentConnection();
  expect(conn.protocol).toBe('embedded');
  expect(conn.embeddedPath).toBe(':memory:');
}, 60_000);

afterAll(async () => {
  await service?.command(conn, `DROP DATABASE IF EXISTS ${DB}`).catch(() => {});
  await app?.close();
});

describe('ClickHouseService on the embedded engine (chDB)', () => {
  it('has the demo data set after module init', async () => {
    const count = await service.query(conn, 'SELECT count() AS n FROM demo.trips');
    expect(count.types).toEqual(['UInt64']);
    expect(count.rows).toEqual([[new ExactNumber(String(DEMO_TRIP_COUNT))]]);
    const cities = await service.query(conn, 'SELECT count() FROM demo.cities');
    expect((cities.rows[0]![0] as ExactNumber).text).toBe('8');
    const tables = await service.query(conn, "SELECT name, engine FROM system.tables WHERE database = 'demo' ORDER BY name");
    expect(tables.rows).toEqual([
      ['cities', 'MergeTree'],
      ['daily_revenue', 'View'],
      ['trips', 'MergeTree'],
      ['trips_between', 'View'],
      ['trips_by_city', 'View'],
    ]);
    const cols = await service.query(conn, "SELECT name, comment FROM system.columns WHERE database = 'demo' AND table = 'trips' AND name = 'fare_amount'");
    expect(cols.rows).toEqual([['fare_amount', 'Fare in EUR, without tip']]);
    // seeding again is harmless
    await service.seedDemoData(conn);
    expect((await service.query(conn, 'SELECT count() FROM demo.trips')).rows).toEqual([[new ExactNumber(String(DEMO_TRIP_COUNT))]]);
  });

  it('reads table and view COMMENTs from system.tables.comment, and runs parameterized views', async () => {
    const r = await service.query(conn, "SELECT comment, create_table_query FROM system.tables WHERE database = 'demo' AND name = 'trips_by_city'");
    const [comment, create] = r.rows[0] as [string, string];
    expect(JSON.parse(comment)).toMatchObject({ title: 'Trips by city', params: { city: expect.any(String) } });
    expect(create).toContain('{city:String}');
    const berlin = await service.query(conn, "SELECT * FROM demo.trips_by_city(city = 'Berlin')");
    expect(berlin.columns).toEqual(['city', 'trips', 'avg_distance_km', 'total_fare']);
    expect(berlin.rows).toHaveLength(1);
    expect(berlin.rows[0]![0]).toBe('Berlin');
    expect(Number((berlin.rows[0]![1] as ExactNumber).text)).toBeGreaterThan(0);
    expect(typeof berlin.rows[0]![3]).toBe('string'); // Decimal → string, as Go emits it
    const between = await service.query(conn, "SELECT * FROM demo.trips_between(from = '2024-01-01', to = '2024-01-31')");
    const total = between.rows.reduce((n, row) => n + Number((row[1] as ExactNumber).text), 0);
    expect(total).toBe(DEMO_TRIP_COUNT);

    await service.command(conn, `CREATE DATABASE IF NOT EXISTS ${DB}`);
    await service.command(conn, `CREATE TABLE ${DB}.t (id UInt32 COMMENT 'the id') ENGINE = MergeTree ORDER BY id COMMENT 'a table comment'`);
    await service.command(conn, `CREATE VIEW ${DB}.v AS SELECT id FROM ${DB}.t WHERE id > {min:UInt32} COMMENT '{"title":"V","description":"d"}'`);
    const comments = await service.query(conn, `SELECT name, comment FROM system.tables WHERE database = '${DB}' ORDER BY name`);
    expect(comments.rows).toEqual([
      ['t', 'a table comment'],
      ['v', '{"title":"V","description":"d"}'],
    ]);
  });

  it('sends no sticky settings: a capped, read-only read with settings is followed by a working write', async () => {
    await service.command(conn, `CREATE DATABASE IF NOT EXISTS ${DB}`);
    await service.command(conn, `CREATE TABLE IF NOT EXISTS ${DB}.sticky (id UInt64) ENGINE = MergeTree ORDER BY id`);
    const capped = await service.query(conn, 'SELECT number FROM numbers(100000)', {
      maxRows: 10,
      maxBytes: 100_000,
      readOnly: true,
      settings: { max_threads: '1' },
    });
    expect(capped.rows).toHaveLength(10);
    expect(capped.truncated?.reason).toBe('max_result_rows');
    await service.command(conn, `INSERT INTO ${DB}.sticky SELECT number FROM numbers(5)`);
    expect((await service.query(conn, `SELECT count() FROM ${DB}.sticky`)).rows).toEqual([[new ExactNumber('5')]]);
    const settings = await service.query(conn, "SELECT name, value FROM system.settings WHERE name IN ('max_result_rows', 'readonly', 'max_threads', 'result_overflow_mode') AND changed");
    expect(settings.rows).toEqual([]);
  });

  it('keeps modern types exact: bare 64/128-bit integers, decimals, DateTime64, Map, named Tuple, Bool', async () => {
    const r = await service.query(
      conn,
      "SELECT toUInt64('18446744073709551615') AS u, toInt128('-170141183460469231731687303715884105728') AS i, toDecimal128('12345678901234567890.1234567890', 10) AS d, toDateTime64('2024-01-02 03:04:05.123', 3, 'UTC') AS t64, map('a', toUInt64(1)) AS m, CAST((1, 'x') AS Tuple(a Int32, b String)) AS nt, true AS b, [toUInt64(1), 2] AS arr",
    );
    expect(r.rows[0]).toEqual([
      new ExactNumber('18446744073709551615'),
      new ExactNumber('-170141183460469231731687303715884105728'),
      '12345678901234567890.123456789',
      '2024-01-02T03:04:05Z',
      { a: new ExactNumber('1') },
      { a: 1, b: 'x' },
      true,
      [new ExactNumber('1'), new ExactNumber('2')],
    ]);
  });

  it('maps chDB errors (string codes with a type)', async () => {
    const table = await failure(service.query(conn, 'SELECT * FROM chmod_emb.no_such_table'));
    expect([table.kind, table.code, table.type]).toEqual(['unknown_table', 60, 'UNKNOWN_TABLE']);
    expect(table.serverMessage).toMatch(/^Code: 60\. DB::Exception: .+\(UNKNOWN_TABLE\)$/);
    const syntax = await failure(service.query(conn, 'SELEC 1'));
    expect([syntax.kind, syntax.code]).toEqual(['syntax', 62]);
    const db = await failure(service.query(conn, 'SELECT 1 FROM chmod_nope_db.t'));
    expect(db.kind).toBe('unknown_database');
  });

  it('pings the embedded engine', async () => {
    await expect(service.ping(conn)).resolves.toBeUndefined();
  });
});
