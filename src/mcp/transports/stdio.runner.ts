import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Logger } from 'pino';
import { STATIC_IDENTITY } from '../../common/request-context.js';
import { McpServerFactory } from '../mcp-server.factory.js';

/**
 * Serves MCP over stdin/stdout (newline-delimited JSON-RPC) for desktop clients that spawn the gateway.
 * stdout carries protocol messages only; logs go to stderr. Resolves when the client closes stdin.
 */
export async function runStdio(app: INestApplicationContext, logger: Logger): Promise<void> {
  const abort = new AbortController();
  const server = app.get(McpServerFactory).create({
    connection: { requestId: randomUUID(), identity: STATIC_IDENTITY, clickhouse: {} },
    signal: abort.signal,
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  logger.info('MCP server ready on stdio');
  await closed;
  abort.abort(new Error('stdin closed'));
  await server.close().catch(() => undefined);
}
