import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../src/config/config.store.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { connectClient, startGateway, type TestGateway } from '../support/gateway.js';

const base = (readOnly: boolean, rows: number) => `
clickhouse:
  host: ${CH_TEST_HOST}
  port: ${CH_TEST_PORT}
  read_only: ${readOnly}
  max_result_rows: ${rows}
server:
  port: 8080
`;

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('hot reload through the running gateway', () => {
  let gw: TestGateway;
  let file: string;

  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'reload-')), 'config.yaml');
    writeFileSync(file, base(false, 500));
    gw = await startGateway(['--config', file, '--config-reload-time', '1']);
    gw.app.get(ConfigStore).startWatching();
  });
  afterAll(async () => gw?.close());

  const toolNames = async () => {
    const client = await connectClient(gw.url);
    const { tools } = await client.listTools();
    await client.close();
    return tools.map((t) => t.name);
  };

  it('applies a reloadable key to new requests, warns about a restart-only one, and keeps the last good config', async () => {
    expect(await toolNames()).toEqual(['execute_query', 'write_query']);

    // read_only is live: write_query disappears without a restart; a multicluster change needs one and says so.
    writeFileSync(file, `${base(true, 500)}multicluster:\n  catalog_cache_max: 500\n`);
    await until(async () => (await toolNames()).length === 1);
    expect(await toolNames()).toEqual(['execute_query']);
    const logs = gw.logs.join('\n');
    expect(logs).toContain(
      'config reload: multicluster.* fields changed — restart required for these to take effect; routing/cache remain on the previous configuration',
    );
    expect(logs).toContain('Configuration reloaded successfully');

    // A broken file: the gateway keeps serving with the last good configuration and says why.
    writeFileSync(file, 'clickhouse: [this is not yaml\n');
    await until(async () => gw.logs.some((l) => l.includes('config reload failed')));
    expect(await toolNames()).toEqual(['execute_query']);

    const metrics = await (await fetch(new URL('/metrics', gw.url))).text();
    expect(metrics).toMatch(/config_reloads_total\{outcome="applied"\} [1-9]/);
    expect(metrics).toMatch(/config_reloads_total\{outcome="failed"\} [1-9]/);
  }, 20_000);
});
