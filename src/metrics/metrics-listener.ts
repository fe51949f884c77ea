import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../common/logging/logging.module.js';
import { redactText } from '../common/logging/redact.js';
import { ConfigStore } from '../config/config.store.js';
import { MetricsService } from './metrics.service.js';

/**
 * The separate metrics listener (`server.metrics.port` ≠ 0): a plain node:http server that serves only
 * `GET /metrics`, on `server.metrics.address` (or `server.address`). Started when the app starts, closed
 * when it shuts down. The metrics settings are restart-only, so the boot config decides.
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: Server;
  private readonly log: Logger;

  constructor(
    private readonly metrics: MetricsService,
    private readonly config: ConfigStore,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'metrics' });
  }

  /** The bound address, once listening (tests use it). */
  get address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { enabled, port, address } = this.config.boot.server.metrics;
    if (!enabled || port === 0) return;
    const host = address || this.config.boot.server.address;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return;
      }
      this.metrics.render().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'Content-Type': contentType });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => {
          this.log.error({ reason: redactText((err as Error).message) }, 'metrics scrape failed');
          res.writeHead(500).end();
        },
      );
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.log.info({ url: `http://${host.includes(':') ? `[${host}]` : host}:${this.address?.port ?? port}/metrics` }, 'Metrics listener started');
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
