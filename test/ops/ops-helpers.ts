import type { NestExpressApplication } from '@nestjs/platform-express';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import { createGatewayApp } from '../../src/bootstrap.js';
import { createRootLogger } from '../../src/common/logging/logger.js';
import { parseArgs } from '../../src/config/config.cli.js';
import { loadConfig } from '../../src/config/config.loader.js';
import type { GatewayConfig } from '../../src/config/config.types.js';

export interface OpsGateway {
  app: NestExpressApplication;
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  base: string;
  logs: Array<Record<string, unknown>>;
}

/** Builds the gateway exactly as `startGateway` does (createGatewayApp) and listens on a random loopback port. */
export interface StartOptions {
  /** Runs before listen(): extra routes land ahead of Nest's routes and 404 handler, behind the ops pipeline. */
  beforeListen?: (app: NestExpressApplication) => void;
  /** Edits the loaded config before the app is built (for modes the config loader does not accept yet). */
  editConfig?: (cfg: GatewayConfig) => void;
}

export async function startOpsGateway(flags: string[], options: StartOptions = {}): Promise<OpsGateway> {
  const args = parseArgs(['--transport', 'http', '--address', '127.0.0.1', '--port', '1', ...flags]);
  const input = { args, env: {} };
  const loaded = loadConfig(input);
  options.editConfig?.(loaded.config);
  const logs: Array<Record<string, unknown>> = [];
  const sink = {
    write: (chunk: string) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  const logger = createRootLogger(loaded.config.logging.level, sink as unknown as pino.DestinationStream);
  const app = await createGatewayApp({ input, loaded }, logger);
  options.beforeListen?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}`, logs };
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into samples (enough for assertions; no escapes in our label values). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples with this name whose labels include `labels`. */
export function metricValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape ${url}: ${res.status}`);
  return parseMetrics(await res.text());
}

/** Polls `probe` until it returns true; resolves with the elapsed milliseconds, rejects after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
