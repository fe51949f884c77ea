import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { loadConfig } from './config.loader.js';
import { ConfigModule, type GatewayConfigService } from './config.module.js';
import { ConfigStore } from './config.store.js';
import type { GatewayConfig } from './config.types.js';

const BASE = `
clickhouse:
  host: ch-a
  port: 8123
  max_result_rows: 100
server:
  transport: http
  address: 127.0.0.1
  port: 8080
logging:
  level: info
`;

/** A consumer as the gateway's own are written: it injects ConfigService and reads a namespace per call. */
@Injectable()
class Reader {
  constructor(readonly config: ConfigService<GatewayConfig, true>) {}
}

@Module({ providers: [Reader] })
class ReaderModule {}

async function appFor(text: string, { args = [] as string[], env = {} as NodeJS.ProcessEnv } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-service-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  const input = { args: parseArgs(['--config', file, ...args]), env };
  @Module({ imports: [ConfigModule.forRoot({ input, loaded: loadConfig(input) }), ReaderModule] })
  class Root {}
  const app = await NestFactory.createApplicationContext(Root, { logger: false });
  return { app, file, config: app.get(Reader).config as GatewayConfigService, store: app.get(ConfigStore) };
}

describe('ConfigService (@nestjs/config) backed by ConfigStore', () => {
  let app: INestApplicationContext | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('serves the typed namespaces, the same snapshot objects the store holds', async () => {
    const made = await appFor(BASE);
    app = made.app;
    const { config, store } = made;
    expect(config.get('clickhouse', { infer: true }).host).toBe('ch-a');
    expect(config.get('clickhouse.max_result_rows', { infer: true })).toBe(100);
    expect(config.get('server.port', { infer: true })).toBe(8080);
    expect(config.get('logging', { infer: true })).toEqual({ level: 'info' });
    expect(config.get('multicluster', { infer: true }).enabled).toBe(false);
    expect(config.get('clickhouse', { infer: true })).toBe(store.current.clickhouse);
    expect(config.get('server', { infer: true })).toBe(store.current.server);
  });

  it('keeps altinity-mcp precedence: flag > env > file, from the loader alone', async () => {
    const made = await appFor(BASE, { args: ['--clickhouse-port', '9000'], env: { CLICKHOUSE_HOST: 'ch-env', CLICKHOUSE_PORT: '7000' } });
    app = made.app;
    expect(made.config.get('clickhouse.host', { infer: true })).toBe('ch-env');
    expect(made.config.get('clickhouse.port', { infer: true })).toBe(9000);
  });

  it('never falls back to process.env nor writes to it', async () => {
    const made = await appFor(BASE);
    app = made.app;
    const before = { ...process.env };
    expect(process.env.PATH).toBeDefined();
    expect((made.config as unknown as ConfigService).get('PATH')).toBeUndefined();
    expect((made.config as unknown as ConfigService).get('clickhouse.no_such_key')).toBeUndefined();
    made.store.reload();
    expect(process.env).toEqual(before);
  });

  it('shows a reload to the next read; a namespace read before it stays whole; restart-only keys keep boot values', async () => {
    const made = await appFor(BASE);
    app = made.app;
    const { config, store, file } = made;
    const before = config.get('clickhouse', { infer: true });
    writeFileSync(file, BASE.replace('max_result_rows: 100', 'max_result_rows: 7').replace('host: ch-a', 'host: ch-b').replace('port: 8080', 'port: 9999').replace('level: info', 'level: debug'));
    expect(store.reload()).toMatchObject({ status: 'applied', changedKeys: ['clickhouse.host', 'clickhouse.max_result_rows', 'logging.level'] });
    expect(config.get('clickhouse.max_result_rows', { infer: true })).toBe(7);
    expect(config.get('clickhouse', { infer: true }).host).toBe('ch-b');
    expect(config.get('logging.level', { infer: true })).toBe('debug');
    expect(config.get('server.port', { infer: true })).toBe(8080); // restart-only
    // The snapshot a request took before the reload is untouched (no half-old, half-new view).
    expect(before.host).toBe('ch-a');
    expect(before.max_result_rows).toBe(100);
  });

  it('keeps serving the last good configuration when a reload fails', async () => {
    const made = await appFor(BASE);
    app = made.app;
    writeFileSync(made.file, BASE.replace('max_result_rows: 100', 'max_result_rows: lots').replace('host: ch-a', 'host: ch-b'));
    expect(made.store.reload().status).toBe('failed');
    expect(made.config.get('clickhouse.max_result_rows', { infer: true })).toBe(100);
    expect(made.config.get('clickhouse.host', { infer: true })).toBe('ch-a');
  });
});
