import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { redactText } from '../logging/redact.js';
import { getRequestId, normalizeMethod, routeTemplateOf } from './request-meta.js';

const MAX_MESSAGE = 200;

/** A short, client-safe message for an HttpException: its own message when it has a plain one. */
function httpMessage(exception: HttpException, status: number): string {
  if (status === HttpStatus.NOT_FOUND) return 'not found'; // Nest's default text echoes the path, which may hold a token
  const response = exception.getResponse();
  let message: unknown = typeof response === 'string' ? response : (response as { message?: unknown })?.message;
  if (Array.isArray(message)) message = message.filter((m) => typeof m === 'string').join('; ');
  const text = typeof message === 'string' && message.trim() !== '' ? message : (STATUS_CODES[status] ?? 'error');
  const clean = redactText(text);
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE - 3)}...` : clean;
}

/** Errors from Express-style middleware (`http-errors`) that are meant to be shown, e.g. 413 from a body reader. */
function exposedHttpError(err: unknown): { status: number; message: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined || status < 400 || status > 499 || e.expose !== true) return undefined;
  return { status, message: typeof e.message === 'string' ? redactText(e.message).slice(0, MAX_MESSAGE) : (STATUS_CODES[status] ?? 'error') };
}

/**
 * The last word on errors: Nest HttpExceptions keep their status with a short JSON body; anything else is a
 * 500 `{"error":"internal error","request_id":...}` with no stack or detail, logged once with redaction.
 */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly log: Logger;

  constructor(logger: Logger) {
    this.log = logger.child({ context: 'http' });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    const res = http.getResponse<ServerResponse>();
    const requestId = getRequestId(req);

    let status: number;
    let message: string;
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      message = httpMessage(exception, status);
      if (status >= 500) this.log.warn({ request_id: requestId, status, reason: message }, 'request failed');
    } else if (exposedHttpError(exception)) {
      ({ status, message } = exposedHttpError(exception)!);
    } else {
      status = HttpStatus.INTERNAL_SERVER_ERROR;
      message = 'internal error';
      const err = exception as Error | undefined;
      this.log.error(
        {
          request_id: requestId,
          method: normalizeMethod(req.method),
          route: routeTemplateOf(req),
          error_type: err?.constructor?.name ?? typeof exception,
          reason: redactText(String(err?.message ?? exception)),
        },
        'unhandled error',
      );
      if (err?.stack) this.log.debug({ request_id: requestId, trace: redactText(err.stack) }, 'stack trace');
    }

    if (res.headersSent) {
      // Too late for a status: end what was started so the client is not left waiting.
      if (!res.writableEnded) res.end();
      return;
    }
    const body = JSON.stringify(requestId ? { error: message, request_id: requestId } : { error: message });
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }
}
