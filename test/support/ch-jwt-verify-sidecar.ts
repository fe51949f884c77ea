import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CH_TEST_HOST, CH_TEST_PORT } from '../setup/clickhouse-server.js';

/**
 * Test support: a loopback stand-in for Altinity's ch-jwt-verify in front of the real ClickHouse 18.16 (which
 * cannot validate JWTs). It verifies the token with the caller's function, maps a claim (`email`) to a ClickHouse
 * user, strips and records `role=` parameters (18.16 has no roles) and forwards the request to the real server.
 * `bearer` mode stands for an Antalya build with token_processors (Bearer only), `basic` mode for a stock build
 * behind the sidecar (Basic user:jwt only; a Bearer gets "Token authentication is not configured").
 */
export type SidecarMode = 'bearer' | 'basic';

export interface SidecarRequest {
  scheme: string;
  basicUser?: string;
  roles: string[];
  path: string;
}

/** Queries whose SQL matches are held back `delayMs` before they are forwarded (a slow ClickHouse). */
export interface SlowQueries {
  match: RegExp;
  delayMs: number;
}

export interface JwtVerifySidecar {
  readonly port: number;
  mode: SidecarMode;
  /** Set to slow down matching queries; their concurrency is tracked in `slowStats`. */
  slowQueries?: SlowQueries;
  /** Matching queries in flight now, at most so far, and in all (since the last reset). */
  readonly slowStats: { inFlight: number; maxInFlight: number; total: number };
  /** Every request seen, in order (never the token). */
  readonly seen: SidecarRequest[];
  close(): Promise<void>;
}

export interface SidecarOptions {
  mode?: SidecarMode;
  /** Verifies a JWT and returns its claims; throws for a bad token. */
  verify(token: string): Promise<Record<string, unknown>>;
  /** Token claim value (`email`) → ClickHouse user. */
  users: Record<string, { user: string; password: string }>;
  /** Opaque tokens the sidecar knows (a stand-in for introspection): token → claim value. */
  opaqueTokens?: Record<string, string>;
  /** The ClickHouse it forwards to (default: the shared test server). */
  target?: { host: string; port: number };
  /** Where it listens (default: 127.0.0.1 on a free port); e.g. 127.0.0.2 for a second "cluster". */
  listen?: { host: string; port?: number };
}

function refuse(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': '516' });
  res.end(`Code: 516, e.displayText() = DB::Exception: ${text}\n`);
}

export async function startJwtVerifySidecar(options: SidecarOptions): Promise<JwtVerifySidecar> {
  const seen: SidecarRequest[] = [];
  const state = { mode: options.mode ?? 'basic' };
  const upstreamServer = options.target ?? { host: CH_TEST_HOST, port: CH_TEST_PORT };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sidecar');
    const roles = url.searchParams.getAll('role');
    url.searchParams.delete('role');
    const auth = req.headers.authorization ?? '';
    const space = auth.indexOf(' ');
    const scheme = space < 0 ? auth : auth.slice(0, space);
    const value = space < 0 ? '' : auth.slice(space + 1);
    let token = '';
    let basicUser: string | undefined;
    if (scheme === 'Bearer') {
      token = value;
    } else if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      basicUser = decoded.slice(0, decoded.indexOf(':'));
      token = decoded.slice(decoded.indexOf(':') + 1);
    }
    seen.push({ scheme: scheme || 'none', basicUser, roles, path: url.pathname });
    if (scheme === 'Bearer' && state.mode === 'basic') return refuse(res, 403, 'Token authentication is not configured');
    if (scheme !== 'Bearer' && state.mode === 'bearer') return refuse(res, 401, 'Bearer token expected');
    let email: string;
    const opaque = options.opaqueTokens?.[token];
    if (opaque !== undefined) {
      email = opaque;
    } else {
      try {
        email = String((await options.verify(token)).email ?? '');
      } catch {
        return refuse(res, 401, 'invalid token');
      }
    }
    if (basicUser !== undefined && basicUser !== email) return refuse(res, 401, 'user does not match the token');
    const target = options.users[email];
    if (!target) return refuse(res, 403, 'no ClickHouse user for this token');
    url.searchParams.set('user', target.user);
    url.searchParams.set('password', target.password);
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const slow = sidecar.slowQueries;
    const sql = `${url.searchParams.get('query') ?? ''}\n${body.toString('utf8')}`;
    const tracked = slow !== undefined && slow.match.test(sql);
    if (tracked) {
      stats.total += 1;
      stats.inFlight += 1;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((resolve) => setTimeout(resolve, slow.delayMs));
    }
    let done = false;
    const finish = () => {
      if (tracked && !done) stats.inFlight -= 1;
      done = true;
    };
    res.on('close', finish);
    const upstream = httpRequest(
      { host: upstreamServer.host, port: upstreamServer.port, method: req.method, path: `${url.pathname}${url.search}`, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => refuse(res, 502, 'upstream down'));
    upstream.end(body);
  }

  const stats = { inFlight: 0, maxInFlight: 0, total: 0 };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen?.port ?? 0, options.listen?.host ?? '127.0.0.1', resolve);
  });
  const sidecar: JwtVerifySidecar = {
    port: (server.address() as AddressInfo).port,
    slowQueries: undefined,
    slowStats: stats,
    get mode() {
      return state.mode;
    },
    set mode(next: SidecarMode) {
      state.mode = next;
    },
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return sidecar;
}
