import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { redactText } from '../logging/redact.js';
import { REQUEST_ID_HEADER, initRequestMeta, isPreflight, loggablePath, normalizeMethod, resolveRequestId, routeTemplateOf } from './request-meta.js';

/** What is known about a request once its response is done (or its connection is gone). */
export interface CompletedRequest {
  method: string;
  /** Route template or `unmatched`; never the raw path. */
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
  /** True when the connection closed before the response was fully sent. */
  aborted: boolean;
  /** True for an OPTIONS request the CORS middleware answered itself (no route ran). */
  preflight?: boolean;
}

export type CompletedRequestObserver = (request: CompletedRequest) => void;

export interface RequestLogOptions {
  logger: Logger;
  /** Called once per request after the response; used for metrics. */
  observers?: readonly CompletedRequestObserver[];
  /** Called at the start of every request (in-flight tracking for graceful shutdown). */
  onStart?: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * First middleware of every route: gives the request an id (the caller's `X-Request-Id` when it is a sane
 * value, else a UUID), echoes it on the response, and writes one access-log line when the response is done.
 * The path is logged only through `redactText` and without its query string (JWE tokens live in paths).
 */
export function createRequestLogMiddleware(options: RequestLogOptions) {
  const log = options.logger.child({ context: 'http' });
  const observers = options.observers ?? [];
  return function requestLog(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const started = process.hrtime.bigint();
    const requestId = resolveRequestId(req.headers['x-request-id']);
    initRequestMeta(req, requestId);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    options.onStart?.(req, res);

    let logged = false;
    const done = (): void => {
      if (logged) return;
      logged = true;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const completed: CompletedRequest = {
        method: normalizeMethod(req.method),
        route: routeTemplateOf(req),
        status: res.statusCode,
        durationMs,
        requestId,
        aborted: !res.writableFinished,
        ...(isPreflight(req) ? { preflight: true } : {}),
      };
      log.info(
        {
          request_id: requestId,
          method: completed.method,
          route: completed.route,
          path: redactText(loggablePath(req)),
          status: completed.status,
          duration_ms: Math.round(durationMs * 1000) / 1000,
          ...(completed.aborted ? { aborted: true } : {}),
        },
        'request completed',
      );
      for (const observe of observers) {
        try {
          observe(completed);
        } catch (err) {
          log.warn({ reason: redactText((err as Error).message) }, 'request observer failed');
        }
      }
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}
