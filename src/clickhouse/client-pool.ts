import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { type PeerCertificate, checkServerIdentity, createSecureContext } from 'node:tls';
import { type ClickHouseClient, type ClickHouseClientConfigOptions, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { ClickHouseQueryError } from './clickhouse-error.js';
import type { ConnectionSpec } from './clickhouse.types.js';
import { describeConnection, hostForUrl, poolKey } from './connection-spec.js';
import { type EmbeddedSandbox, type SessionFactory, acquireSandbox } from './embedded-sandbox.js';

/**
 * One @clickhouse/client per distinct connection (the whole ConnectionSpec is the key, secrets hashed), with
 * HTTP keep-alive, eviction of clients left unused for a while, and per-client facts learnt at run time
 * (e.g. "this user may not change settings").
 */

export interface PooledClient {
  readonly key: string;
  readonly spec: ConnectionSpec;
  readonly client: ClickHouseClient;
  /** A second client with its own sockets, so that KILL QUERY never waits behind the queries it cancels. */
  killClient?: ClickHouseClient;
  lastUsed: number;
  inFlight: number;
  /** The user's profile is read-only: the gateway's own settings (caps, max_execution_time) are not sent. */
  settingsForbidden: boolean;
  /** The user may change settings but not `readonly` (it is read-only already). */
  readonlyForbidden: boolean;
  timezone?: Promise<string>;
  /** Embedded clients are never evicted: closing the last `:memory:` connection would drop its data. */
  readonly pinned: boolean;
  /** Set once the demo data set was created in this (embedded) client. */
  seeded?: Promise<void>;
  /** The embedded engine's sandbox this client holds (released when the client closes). */
  sandbox?: EmbeddedSandbox;
}

export interface PoolOptions {
  /** Clients unused for this long are closed (default 5 minutes). */
  idleMs: number;
  /** Upper bound of pooled clients; the least recently used idle one goes first (default 256). */
  maxClients: number;
  /** Sockets per client (default 64). */
  maxSockets: number;
  /** Loads chDB's connection factory (injectable for tests). */
  loadEmbedded: () => Promise<EmbeddedModule>;
}

export interface EmbeddedModule {
  createChdbConnection: (options: { path?: string }) => unknown;
  /** chDB's `new Session(path, { connectionArgs })`: opens the engine with the sandbox's arguments. */
  openSession?: SessionFactory;
}

export const EMBEDDED_NOT_INSTALLED = 'embedded engine not installed (npm package chdb is a development dependency)';

/** Imports chDB lazily: it is a development dependency and weighs half a gigabyte. */
export async function loadEmbeddedEngine(
  importer: () => Promise<unknown> = () => import('chdb/connection'),
  rootImporter: () => Promise<unknown> = () => import('chdb'),
): Promise<EmbeddedModule> {
  let mod: unknown;
  let root: unknown;
  try {
    mod = await importer();
    root = await rootImporter();
  } catch (err) {
    const code = (err as { code?: string }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    throw new ClickHouseQueryError({
      kind: 'unreachable',
      userMessage: missing ? EMBEDDED_NOT_INSTALLED : `embedded engine could not be loaded: ${(err as Error).message}`,
      serverMessage: (err as Error).message ?? String(err),
      cause: err,
    });
  }
  const factory = (mod as Partial<EmbeddedModule>).createChdbConnection ?? (mod as { default?: Partial<EmbeddedModule> }).default?.createChdbConnection;
  if (typeof factory !== 'function') {
    throw new ClickHouseQueryError({ kind: 'unreachable', userMessage: EMBEDDED_NOT_INSTALLED, serverMessage: 'chdb/connection has no createChdbConnection' });
  }
  type SessionClass = new (path: string, opts: { connectionArgs: string[] }) => ReturnType<SessionFactory>;
  const Session = (root as { Session?: SessionClass }).Session ?? (root as { default?: { Session?: SessionClass } }).default?.Session;
  return {
    createChdbConnection: factory,
    ...(typeof Session === 'function' ? { openSession: (path: string, opts: { connectionArgs: string[] }) => new Session(path, opts) } : {}),
  };
}

/** Milliseconds after which the gateway gives up on a query: a bit more than ClickHouse's own limit. */
export function deadlineMs(maxExecutionTimeSeconds: number): number {
  const seconds = maxExecutionTimeSeconds > 0 ? maxExecutionTimeSeconds : 600;
  return seconds * 1000 + Math.max(2000, seconds * 50);
}

interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function operatorTlsMaterial(spec: ConnectionSpec): TlsMaterial {
  const pair = spec.tls.clientCert && spec.tls.clientKey;
  return {
    ca: spec.tls.caCert ? readTlsFile(spec.tls.caCert, 'read CA certificate') : undefined,
    cert: pair ? readTlsFile(spec.tls.clientCert!, 'load client key pair') : undefined,
    key: pair ? readTlsFile(spec.tls.clientKey!, 'load client key pair') : undefined,
  };
}

/**
 * TLS files named by a JWE token (already inside `server.jwe.tls_material_dir`): loaded and parsed now, so a bad
 * file fails here with upstream's one sentence — never a path, the file's content or the loader's error text.
 */
function tokenTlsMaterial(spec: ConnectionSpec): TlsMaterial {
  try {
    const material = operatorTlsMaterial(spec);
    createSecureContext(material);
    return material;
  } catch (err) {
    const message = 'jwe: failed to create ClickHouse client with TLS material';
    throw new ClickHouseQueryError({ kind: 'other', userMessage: message, serverMessage: message, cause: err });
  }
}

function readTlsFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ClickHouseQueryError({
      kind: 'other',
      userMessage: `failed to build TLS config: failed to ${what}: ${(err as Error).message}`,
      serverMessage: (err as Error).message,
      cause: err,
    });
  }
}

/** The HTTP(S) agent: keep-alive, TLS material, and `connect_host` (dial one address, keep `host` for Host/SNI/cert). */
function makeAgent(spec: ConnectionSpec, maxSockets: number): http.Agent {
  const base = { keepAlive: true, maxSockets, maxFreeSockets: Math.min(16, maxSockets) };
  let agent: http.Agent;
  if (spec.tls.enabled) {
    const { ca, cert, key } = spec.tls.fromToken ? tokenTlsMaterial(spec) : operatorTlsMaterial(spec);
    agent = new https.Agent({ ...base, ca, cert, key, rejectUnauthorized: !spec.tls.insecureSkipVerify });
  } else {
    agent = new http.Agent(base);
  }
  if (spec.connectHost && spec.connectHost !== spec.host) {
    const target = spec.connectHost;
    const logicalHost = spec.host;
    const original = (agent as unknown as { createConnection: (o: Record<string, unknown>, cb?: unknown) => Socket }).createConnection.bind(agent);
    (agent as unknown as { createConnection: unknown }).createConnection = (options: Record<string, unknown>, cb?: unknown) =>
      original(
        {
          ...options,
          host: target,
          ...(spec.tls.enabled
            ? {
                servername: isIP(logicalHost) ? undefined : logicalHost,
                checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(logicalHost, cert),
              }
            : {}),
        },
        cb,
      );
  }
  return agent;
}

function httpClient(spec: ConnectionSpec, maxSockets: number, requestTimeout: number): ClickHouseClient {
  const auth: Partial<ClickHouseClientConfigOptions> = spec.bearerToken
    ? { access_token: spec.bearerToken }
    : { username: spec.username || 'default', password: spec.password };
  return createClient({
    url: `${spec.tls.enabled ? 'https' : 'http'}://${hostForUrl(spec.host)}:${spec.port}`,
    ...auth,
    database: spec.database || undefined,
    application: 'clickhouse-mcp-gateway',
    request_timeout: requestTimeout,
    http_agent: makeAgent(spec, maxSockets),
    keep_alive: { enabled: true, idle_socket_ttl: 2500 },
    http_headers: { ...spec.httpHeaders },
    ...(spec.roles?.length ? { role: [...spec.roles] } : {}),
    compression: { request: false, response: false },
    log: { level: ClickHouseLogLevel.OFF },
  });
}

export class ClientPool {
  private readonly clients = new Map<string, PooledClient>();
  private readonly creating = new Map<string, Promise<PooledClient>>();
  private embedded?: Promise<EmbeddedModule>;

  constructor(
    private readonly log: Logger,
    private readonly options: PoolOptions,
    /** Runs once on every new client before it is handed out (used to seed the embedded demo data). */
    private readonly onCreate: (client: PooledClient) => Promise<void> = async () => {},
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** The pooled client of a connection, created on first use; counts as in use until release(). */
  async acquire(spec: ConnectionSpec): Promise<PooledClient> {
    const key = poolKey(spec);
    let pooled = this.clients.get(key);
    if (!pooled) {
      let pending = this.creating.get(key);
      if (!pending) {
        pending = this.create(key, spec).finally(() => this.creating.delete(key));
        this.creating.set(key, pending);
      }
      pooled = await pending;
    }
    pooled.inFlight++;
    pooled.lastUsed = Date.now();
    return pooled;
  }

  release(pooled: PooledClient): void {
    pooled.inFlight = Math.max(0, pooled.inFlight - 1);
    pooled.lastUsed = Date.now();
  }

  killClientFor(pooled: PooledClient): ClickHouseClient {
    if (!pooled.killClient) pooled.killClient = httpClient(pooled.spec, 2, 10_000);
    return pooled.killClient;
  }

  private async create(key: string, spec: ConnectionSpec): Promise<PooledClient> {
    this.makeRoom();
    let client: ClickHouseClient;
    let sandbox: EmbeddedSandbox | undefined;
    if (spec.protocol === 'embedded') {
      this.embedded ??= this.options.loadEmbedded();
      let mod: EmbeddedModule;
      try {
        mod = await this.embedded;
      } catch (err) {
        this.embedded = undefined;
        throw err;
      }
      if (!mod.openSession) {
        throw new ClickHouseQueryError({
          kind: 'unreachable',
          userMessage: 'embedded engine refused: this chdb package cannot open a sandboxed session (chdb 3.4 or newer is needed)',
          serverMessage: 'chdb has no Session export',
        });
      }
      // Opens the engine with its sandbox first; the connection joins that engine (same data directory).
      sandbox = acquireSandbox(mod.openSession, spec.embeddedPath || ':memory:');
      let connection: unknown;
      try {
        connection = mod.createChdbConnection({ path: sandbox.dataPath });
      } catch (err) {
        sandbox.release();
        throw new ClickHouseQueryError({
          kind: 'unreachable',
          userMessage: `embedded engine could not open ${spec.embeddedPath}: ${(err as Error).message}`,
          serverMessage: (err as Error).message,
          cause: err,
        });
      }
      client = createClient({
        connection: connection as ClickHouseClientConfigOptions['connection'],
        log: { level: ClickHouseLogLevel.OFF },
      });
    } else {
      client = httpClient(spec, this.options.maxSockets, deadlineMs(spec.maxExecutionTime) + 60_000);
    }
    const pooled: PooledClient = {
      key,
      spec,
      client,
      lastUsed: Date.now(),
      inFlight: 0,
      settingsForbidden: false,
      readonlyForbidden: false,
      pinned: spec.protocol === 'embedded',
      ...(sandbox ? { sandbox } : {}),
    };
    try {
      await this.onCreate(pooled);
    } catch (err) {
      await closeClient(pooled);
      throw err;
    }
    this.clients.set(key, pooled);
    this.log.debug({ ...describeConnection(spec), clients: this.clients.size }, 'ClickHouse client created');
    return pooled;
  }

  /** Closes clients that have been idle for `idleMs` (or the given age). Returns how many were closed. */
  async evictIdle(maxIdleMs = this.options.idleMs, now = Date.now()): Promise<number> {
    const victims = [...this.clients.values()].filter((c) => !c.pinned && c.inFlight === 0 && now - c.lastUsed >= maxIdleMs);
    for (const victim of victims) await this.remove(victim, 'idle');
    return victims.length;
  }

  private makeRoom(): void {
    if (this.clients.size < this.options.maxClients) return;
    const idle = [...this.clients.values()].filter((c) => !c.pinned && c.inFlight === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    const victim = idle[0];
    if (victim) void this.remove(victim, 'pool full');
  }

  private async remove(pooled: PooledClient, reason: string): Promise<void> {
    if (this.clients.get(pooled.key) !== pooled) return;
    this.clients.delete(pooled.key);
    this.log.debug({ ...describeConnection(pooled.spec), reason }, 'ClickHouse client closed');
    await closeClient(pooled);
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.creating.values()]);
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(all.map((c) => closeClient(c)));
  }
}

/** Closes a pooled client's connections, then lets go of its embedded sandbox (after the connection that uses it). */
async function closeClient(pooled: PooledClient): Promise<void> {
  await Promise.allSettled([pooled.client.close(), pooled.killClient?.close()]);
  pooled.sandbox?.release();
}
