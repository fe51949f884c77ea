import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { credentialCatalogKey } from '../../catalog/catalog-key.js';
import { ConfigStore } from '../../config/config.store.js';
import type { ClickHouseConfig, JweConfig } from '../../config/config.types.js';
import { connectionFromClaims } from './jwe-claims.js';
import { JweAuthenticator, type JweAuthResult } from './jwe-authenticator.js';
import { deriveJweKeys, type JweKeys, parseJweToken } from './jwe-token.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

type Accepted = Extract<JweAuthResult, { ok: true }>;

/** The per-identity cache key of a token (upstream §D.2): `tok:` + SHA-256 of `jwe\0` + token, hex. */
export function jweCacheKey(token: string): string {
  return credentialCatalogKey('jwe', token);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * `JweAuthenticator` over the configuration in force: secrets, `tls_material_dir` and the operator protocol
 * are read on every call, so a hot reload (a rotated secret, a new allowlist) applies to the next request and
 * empties the cache of verified tokens. Accepted results are frozen: they are shared between the requests that
 * present the same token.
 */
@Injectable()
export class JweAuthenticatorService extends JweAuthenticator {
  private readonly cache = new VerifiedTokenCache<Accepted>();
  private keysFor?: JweConfig;
  private keys: JweKeys = { jweKey: new Uint8Array(32) };

  constructor(private readonly config: ConfigStore) {
    super();
  }

  async authenticate(token: string): Promise<JweAuthResult> {
    // One snapshot for the whole call: secrets and rules never come from two different reloads.
    const { server, clickhouse } = this.config.current;
    const jwe = server.jwe;
    this.useConfig(jwe, clickhouse);
    // Hashing first keeps the token itself out of every structure the gateway holds on to.
    const cacheKey = jweCacheKey(token);
    const nowMs = Date.now();
    const cached = this.cache.get(cacheKey, nowMs);
    if (cached !== undefined) return cached;

    const parsed = await parseJweToken(token, this.keys, nowMs / 1000);
    if (!parsed.ok) return { ok: false, outcome: parsed.reason, message: parsed.message };
    const verdict = connectionFromClaims(parsed.claims, {
      operatorProtocol: clickhouse.protocol,
      tlsMaterialDir: jwe.tls_material_dir,
    });
    if (!verdict.ok) return { ok: false, outcome: verdict.reason, message: verdict.message };
    const accepted: Accepted = deepFreeze({
      ok: true,
      // The token's `exp` bounds how long its dynamic-tool catalog is cached (upstream D.2).
      identity: { kind: 'jwe', cacheKey, subject: verdict.username, ...(parsed.expiresAt !== undefined ? { expiresAt: parsed.expiresAt } : {}) },
      connection: verdict.connection,
      ...(parsed.expiresAt !== undefined ? { expiresAt: parsed.expiresAt } : {}),
    });
    // A reload may have happened while decrypting; only cache under the generation the token was checked with.
    if (this.keysFor === jwe) this.cache.set(cacheKey, accepted, nowMs, parsed.expiresAt);
    return accepted;
  }

  /** Number of verified tokens held (for tests and diagnostics). */
  get cachedTokens(): number {
    return this.cache.size;
  }

  /**
   * Config snapshots are immutable and replaced whole on reload, so identity tells "maybe changed"; the
   * fingerprint (hashed: no second copy of the secrets) tells whether what a verdict depends on really did.
   */
  private useConfig(jwe: JweConfig, clickhouse: ClickHouseConfig): void {
    if (this.keysFor === jwe && this.protocolFor === clickhouse.protocol) return;
    this.keysFor = jwe;
    this.protocolFor = clickhouse.protocol;
    this.keys = deriveJweKeys(jwe.jwe_secret_key, jwe.jwt_secret_key);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([jwe.jwe_secret_key, jwe.jwt_secret_key, jwe.tls_material_dir, clickhouse.protocol]))
      .digest('hex');
    this.cache.useGeneration(fingerprint);
  }

  private protocolFor?: string;
}
