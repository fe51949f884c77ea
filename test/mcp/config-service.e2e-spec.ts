import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigService } from '@nestjs/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfigService } from '../../src/config/config.module.js';
import { ConfigStore } from '../../src/config/config.store.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const config = (allowedHosts: string[]) => `
clickhouse:
  host: ${CH_TEST_HOST}
  port: ${CH_TEST_PORT}
server:
  port: 8080
  allowed_hosts: [${allowedHosts.join(', ')}]
`;

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
});

/** POST an MCP initialize with a chosen Host header (fetch does not let a caller set Host). */
function postWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(INITIALIZE);
  });
}

describe('ConfigService in the running gateway (reload visible to the next request)', () => {
  let gw: TestGateway;
  let file: string;

  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'cfg-service-e2e-')), 'config.yaml');
    writeFileSync(file, config([]));
    gw = await startGateway(['--config', file]);
  });
  afterAll(async () => gw?.close());

  it('the MCP controller reads server.allowed_hosts through ConfigService, before and after a reload', async () => {
    const service = gw.app.get(ConfigService) as GatewayConfigService;
    expect(service.get('server.allowed_hosts', { infer: true })).toEqual([]);
    expect(service.get('clickhouse', { infer: true }).port).toBe(CH_TEST_PORT);

    const refused = await postWithHost(gw.url, 'gw.example');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error.message).toBe('Forbidden: invalid Host header "gw.example"');

    writeFileSync(file, config(['gw.example']));
    expect(gw.app.get(ConfigStore).reload()).toMatchObject({ status: 'applied', changedKeys: ['server.allowed_hosts'] });
    expect(service.get('server.allowed_hosts', { infer: true })).toEqual(['gw.example']);

    const accepted = await postWithHost(gw.url, 'gw.example');
    expect(accepted.status).toBe(200);
    expect(accepted.body).toContain('"serverInfo"');
  });
});
