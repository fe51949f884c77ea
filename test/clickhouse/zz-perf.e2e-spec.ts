import { it } from 'vitest';
import { createClient } from '@clickhouse/client';
import { connection, makeService } from './ch-test-helpers.js';
import { CH_TEST_URL } from '../setup/clickhouse-server.js';

it('perf', async () => {
  const s = makeService();
  const conn = connection(s);
  const raw = createClient({ url: CH_TEST_URL });
  for (let round = 0; round < 2; round++)
  for (const sql of [
    'SELECT toUInt32(number) a, toString(number) AS s, number * 1.5 AS f, toDateTime(number) AS d FROM system.numbers LIMIT 1000',
    'SELECT toUInt32(number) a, toString(number) AS s, number * 1.5 AS f, toDateTime(number, \'UTC\') AS d FROM system.numbers LIMIT 1000',
    'SELECT number, toString(number) AS s, number * 1.5 AS f, toDate(number) AS d FROM system.numbers LIMIT 1000',
  ]) {
    const time = async (fn: () => Promise<unknown>) => { const all: number[] = []; for (let i = 0; i < 15; i++) { const t = performance.now(); await fn(); all.push(performance.now() - t); } all.sort((a,b)=>a-b); return all[7]!.toFixed(1); };
    const rawMs = await time(async () => (await raw.query({ query: sql, format: 'JSONCompact' })).json());
    const ours = await time(() => s.query(conn, sql, { maxRows: 50000, maxBytes: 100_000_000 }));
    const oursNoCaps = await time(() => s.query(conn, sql));
    console.log(sql.slice(60, 110), { rawMs, ours, oursNoCaps });
  }
  await raw.close(); await s.close();
});
