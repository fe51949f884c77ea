import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ConfigService } from '@nestjs/config';
import type { GatewayConfigService } from '../../config/config.module.js';
import { ROOT_LOGGER } from '../logging/logging.module.js';
import { ShutdownState } from '../shutdown/shutdown.state.js';
import { createCorsMiddleware } from './cors.middleware.js';
import { GatewayExceptionFilter } from './exception.filter.js';
import { createRequestLogMiddleware } from './request-log.middleware.js';
import { RequestObservers } from './request-observers.js';

/**
 * Installs the middleware every route goes through, ahead of every Nest route and of anything mounted later:
 * request id + access log + in-flight tracking, then CORS (which answers any OPTIONS itself); and the global
 * exception filter. Call it right after the app is created, before `init()`/`listen()`.
 */
export function installHttpPipeline(app: INestApplication): void {
  const logger = app.get<Logger>(ROOT_LOGGER);
  const config: GatewayConfigService = app.get(ConfigService);
  const shutdown = app.get(ShutdownState);
  const observers = app.get(RequestObservers);

  app.use(
    createRequestLogMiddleware({
      logger,
      observers: observers.all,
      onStart: (_req, res) => {
        shutdown.track(res);
        // While draining, answer and let the client reconnect elsewhere instead of reusing this connection.
        if (shutdown.shuttingDown) res.setHeader('Connection', 'close');
      },
    }),
  );
  app.use(createCorsMiddleware(() => config.get('server.cors_origin', { infer: true })));
  app.useGlobalFilters(new GatewayExceptionFilter(logger));
  answerConnectRequests(app.getHttpServer() as Server | undefined);
}

const CONNECT_REFUSAL = 'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, POST, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/**
 * Node hands `CONNECT` requests to a `connect` listener and, when there is none, drops the connection without
 * an answer. The gateway is no proxy: answer 405 like any other unsupported method, then close.
 */
function answerConnectRequests(server: Server | undefined): void {
  if (!server || typeof server.on !== 'function' || server.listenerCount('connect') > 0) return;
  server.on('connect', (_req: unknown, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(CONNECT_REFUSAL);
  });
}
