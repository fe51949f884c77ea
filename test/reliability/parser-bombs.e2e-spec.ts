import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chQuery, PrivateClickHouse } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { connectMcp, resultText, withTimeout } from './reliability-helpers.js';

/**
 * SQL that makes ClickHouse 18.16's parser recurse until the server process dies (see the ClickHouse spec
 * §5). Run against a ClickHouse of this file's own: if the gateway lets one through, only this server falls.
 */
const CH_PORT = 18143;

describe('parser bombs: deeply nested SQL is refused before it reaches ClickHouse', () => {
  const ch = new PrivateClickHouse(CH_PORT);
  let gw: TestGateway;
  let client: Client;

  const alive = async (): Promise<boolean> => (await chQuery('SELECT 1', { url: ch.url }).catch(() => '')).trim() === '1';

  beforeAll(async () => {
    ch.start();
    gw = await startGateway(['--clickhouse-host', '127.0.0.1', '--clickhouse-port', String(CH_PORT)]);
    client = await connectMcp(gw.url, 'parser-bombs');
  }, 60_000);

  afterEach(async () => {
    if (!(await alive())) {
      ch.kill(); // clears the pid file of the dead server
      ch.start();
    }
  }, 60_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await gw?.close();
    ch.destroy();
  });

  /** The call is refused with a nesting error, and ClickHouse is still up afterwards. */
  async function expectRefused(query: string): Promise<void> {
    const result = await withTimeout(client.callTool({ name: 'execute_query', arguments: { query } }, undefined, { timeout: 15_000 }), 16_000, 'tool call');
    const text = resultText(result);
    await new Promise((r) => setTimeout(r, 300)); // a crash takes a moment to show
    const up = await alive();
    expect({ isError: result.isError, refused: /nesting too deep|too deep|nested/i.test(text) && !/cannot reach ClickHouse/.test(text), clickhouseUp: up }).toEqual({
      isError: true,
      refused: true,
      clickhouseUp: true,
    });
  }

  it('2,000 nested parentheses (≈ 1,000 crash 18.16)', async () => {
    await expectRefused(`SELECT ${'('.repeat(2000)}1${')'.repeat(2000)}`);
  });

  it('2,000 nested function calls', async () => {
    await expectRefused(`SELECT ${'abs('.repeat(2000)}1${')'.repeat(2000)}`);
  });

  // Nesting without brackets crashes ClickHouse 18.16 the same way: the guard counts CASE … END levels and runs
  // of prefix operators as depth too.
  it('1,000 nested CASE WHEN … END (no brackets, 21 KB)', async () => {
    await expectRefused(`SELECT ${'CASE WHEN 1 THEN '.repeat(1000)}1${' END'.repeat(1000)}`);
  }, 30_000);

  it('a chain of 2,000 INTERVAL keywords (no brackets, 18 KB)', async () => {
    await expectRefused(`SELECT ${'INTERVAL '.repeat(2000)}1 DAY`);
  }, 30_000);

  it('2,000 chained NOT and unary minus', async () => {
    await expectRefused(`SELECT ${'NOT '.repeat(2000)}1`);
    await expectRefused(`SELECT ${'- '.repeat(2000)}1`);
  }, 30_000);
});
