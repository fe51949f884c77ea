import { createHash, timingSafeEqual } from 'node:crypto';
import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../common/logging/logging.module.js';
import { ConfigStore } from '../../config/config.store.js';
import type { JweConfig } from '../../config/config.types.js';
import { BodyTooLargeError, readBody } from '../../mcp/transports/http-checks.js';
import { INCOMPLETE_CONNECTION } from './jwe-claims.js';
import { mintJweToken, type JweConnectionClaims } from './jwe-token.js';
import { INVALID_TLS_MATERIAL_PATH, resolveTlsMaterialPath } from './tls-material.js';

/** upstream §G.2: the whole request body is capped at 64 KiB. */
export const GENERATOR_MAX_BODY_BYTES = 64 * 1024;
/** An admin secret shorter than this authenticates nobody (config validation refuses it too). */
export const GENERATOR_MIN_ADMIN_TOKEN_BYTES = 32;
const DEFAULT_EXPIRY_SECONDS = 3600;
const DEFAULT_MAX_EXPIRY_SECONDS = 86_400;
export const EXPIRY_OUT_OF_RANGE = 'expiry must be positive and within max_expiry_seconds';

/** Go's `http.Error`: text/plain, nosniff, the message and a newline. Never cached: answers of a token mint. */
function sendText(res: Response, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = `${message}\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Go's `strings.TrimSpace` (Unicode white space, U+0085 included). */
function isBlank(value: string | undefined): boolean {
  return (value ?? '').replace(/[\s\u0085]+/g, '') === '';
}

/**
 * `Authorization: Bearer <secret>` against the admin token: scheme case-insensitive, exactly one space, the
 * secret compared in constant time (both sides hashed first, so neither length nor content leaks by timing).
 */
export function isGeneratorAdmin(header: string | undefined, adminToken: string): boolean {
  if (Buffer.byteLength(adminToken, 'utf8') < GENERATOR_MIN_ADMIN_TOKEN_BYTES || header === undefined) return false;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return false;
  const presented = createHash('sha256').update(header.slice(space + 1), 'utf8').digest();
  const expected = createHash('sha256').update(adminToken, 'utf8').digest();
  return timingSafeEqual(presented, expected);
}

/**
 * `POST /jwe-token-generator`, protected as upstream #180 (§G): it exists only when both `server.jwe.enabled`
 * and `server.jwe.token_generator.enabled` are on (404 otherwise, whatever the method or credentials), and
 * mints only for a caller holding the operator's admin bearer secret. Checks run in upstream's order: 404 →
 * 401 → 405 → 500 (no JWE secret) → body (64 KiB, exactly one JSON value, field types) → host and username →
 * expiry → TLS paths against `server.jwe.tls_material_dir` → mint. Registered ahead of the MCP routes, so the
 * literal path wins over `/{token}`. Rejections log nothing; an issue logs host, username and expiry only.
 */
@Controller()
export class JweGeneratorController {
  private readonly log: Logger;

  constructor(
    private readonly config: ConfigStore,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'jwe-token-generator' });
  }

  @All('jwe-token-generator')
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    // Both switches are restart-only: the boot values decide whether the endpoint exists.
    const boot = this.config.boot.server.jwe;
    if (!boot.enabled || !boot.token_generator.enabled) return sendText(res, 404, '404 page not found');
    // The admin token, the secrets, the maximum lifetime and the TLS directory are hot: read them now.
    const jwe: JweConfig = this.config.current.server.jwe;
    if (!isGeneratorAdmin(req.headers.authorization, jwe.token_generator.admin_token)) {
      return sendText(res, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' });
    }
    if (req.method !== 'POST') return sendText(res, 405, 'Method not allowed', { Allow: 'POST' });
    if (jwe.jwe_secret_key === '') return sendText(res, 500, 'Missing JWE secret key');

    let body: Buffer;
    try {
      body = await readBody(req, GENERATOR_MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close');
        return sendText(res, 413, 'Request body too large');
      }
      if (!res.destroyed) sendText(res, 400, 'Invalid request body');
      return;
    }
    // Loaded on first use: class-validator costs start-up time for an endpoint most gateways never enable.
    const { parseJweTokenRequest } = await import('./jwe-generator.dto.js');
    const parsed = await parseJweTokenRequest(body);
    if (!parsed.ok) return sendText(res, 400, parsed.message);
    const request = parsed.value;
    if (isBlank(request.host) || isBlank(request.username)) return sendText(res, 400, INCOMPLETE_CONNECTION);

    const maxExpiry = jwe.token_generator.max_expiry_seconds > 0 ? jwe.token_generator.max_expiry_seconds : DEFAULT_MAX_EXPIRY_SECONDS;
    const expiry = request.expiry === undefined || request.expiry === 0 ? DEFAULT_EXPIRY_SECONDS : request.expiry;
    if (expiry < 0 || expiry > maxExpiry) return sendText(res, 400, EXPIRY_OUT_OF_RANGE);
    const exp = Math.floor(Date.now() / 1000) + expiry;
    if (!Number.isSafeInteger(exp)) return sendText(res, 400, 'expiry is too large');

    // Every path is checked even when TLS is off (a token may not name a file outside the allowlist at all);
    // the requested path is minted as given, the server re-checks it on use (so a symlink rotation still works).
    for (const path of [request.tls_ca_cert, request.tls_client_cert, request.tls_client_key]) {
      if (path && resolveTlsMaterialPath(jwe.tls_material_dir, path) === undefined) return sendText(res, 400, INVALID_TLS_MATERIAL_PATH);
    }

    const claims: JweConnectionClaims = { host: request.host!, username: request.username!, exp };
    if (request.port !== undefined && request.port > 0) claims.port = request.port;
    if (request.limit !== undefined && request.limit > 0) claims.limit = request.limit;
    if (request.database) claims.database = request.database;
    if (request.password) claims.password = request.password;
    if (request.protocol) claims.protocol = request.protocol;
    if (request.tls_ca_cert) claims.tls_ca_cert = request.tls_ca_cert;
    if (request.tls_client_cert) claims.tls_client_cert = request.tls_client_cert;
    if (request.tls_client_key) claims.tls_client_key = request.tls_client_key;
    if (request.tls_enabled === true) {
      claims.tls_enabled = true;
      if (request.tls_insecure_skip_verify === true) claims.tls_insecure_skip_verify = true;
    }
    const token = await mintJweToken(claims, { jweSecretKey: jwe.jwe_secret_key, jwtSecretKey: jwe.jwt_secret_key });
    this.log.info({ host: claims.host, username: claims.username, expiry }, 'Issued JWE token');
    const payload = JSON.stringify({ token });
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(payload));
    res.end(`${payload}\n`); // Go's json.Encoder ends the value with a newline
  }
}
