import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pino from 'pino';
import type { GatewayAppHooks } from '../../src/auth/oauth/outbound-fetch-hooks.js';
import { createGatewayApp } from '../../src/bootstrap.js';
import { createRootLogger } from '../../src/common/logging/logger.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import { ConfigStore } from '../../src/config/config.store.js';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';

/** A gateway started in-process exactly as `node dist/main.js` builds it, listening on a random loopback port. */
export interface TestGateway {
  app: NestExpressApplication;
  url: string;
  /** Everything the gateway logged, one JSON object per line. */
  logs: string[];
  close(): Promise<void>;
}

/** Flags that point the gateway at the shared ClickHouse test server. */
export const TEST_CLICKHOUSE_FLAGS = ['--clickhouse-host', CH_TEST_HOST, '--clickhouse-port', String(CH_TEST_PORT)];

export async function startGateway(flags: string[], env: Record<string, string> = {}, hooks: GatewayAppHooks = {}): Promise<TestGateway> {
  const input = { args: parseArgs(['--transport', 'http', '--address', '127.0.0.1', '--port', '1', ...flags]), env };
  const logs: string[] = [];
  const sink = { write: (line: string) => void logs.push(line) };
  const logger = createRootLogger(loadConfig(input).config.logging.level, sink as unknown as pino.DestinationStream);
  const app = await createGatewayApp({ input, loaded: loadConfig(input) }, logger, hooks);
  app.get(ConfigStore);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}/`,
    logs,
    close: () => app.close(),
  };
}

/** An MCP SDK client connected over stateless streamable HTTP. */
export async function connectClient(url: string, path = ''): Promise<Client> {
  const client = new Client({ name: 'gateway-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(path, url)));
  return client;
}

/** The JSON of the first text block of a tool result. */
export function firstJson(result: unknown): unknown {
  const content = (result as { content: unknown }).content as Array<{ type: string; text: string }>;
  return JSON.parse(content[0]!.text);
}
