import { createHash } from 'node:crypto';
import { CompactEncrypt, SignJWT } from 'jose';

/**
 * Connection claims a JWE token carries (auth spec §1.4, upstream §B: a token is self-contained, so host and
 * username are always present and nothing else is inherited from the server's own ClickHouse settings).
 */
export interface JweConnectionClaims {
  host: string;
  username: string;
  port?: number;
  database?: string;
  password?: string;
  protocol?: string;
  limit?: number;
  tls_enabled?: boolean;
  tls_ca_cert?: string;
  tls_client_cert?: string;
  tls_client_key?: string;
  tls_insecure_skip_verify?: boolean;
  /** Unix seconds; the server rejects the token once `now > exp`. */
  exp: number;
}

export interface JweSecrets {
  /** Raw secret; the A256KW key is SHA-256 over its UTF-8 bytes (no trimming). */
  jweSecretKey: string;
  /** Optional: when set the payload is an HS256 JWT keyed with SHA-256 of this secret (`cty: JWT`). */
  jwtSecretKey?: string;
}

/** The 32-byte key altinity-mcp derives from a secret string: one SHA-256, no salt, no KDF (auth spec §1.2). */
export function deriveJweKey(secret: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(secret, 'utf8').digest());
}

/**
 * Mints a compact JWE exactly as altinity-mcp does: A256KW + A256GCM, `typ: JWE`, `cty: JSON` for a plain
 * claims payload or `cty: JWT` for a nested HS256 JWS. Never compressed (`zip` is not set).
 */
export async function mintJweToken(claims: JweConnectionClaims, secrets: JweSecrets): Promise<string> {
  const nested = secrets.jwtSecretKey !== undefined && secrets.jwtSecretKey !== '';
  const payload = nested
    ? await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(deriveJweKey(secrets.jwtSecretKey!))
    : JSON.stringify(claims);
  return new CompactEncrypt(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', cty: nested ? 'JWT' : 'JSON', typ: 'JWE' })
    .encrypt(deriveJweKey(secrets.jweSecretKey));
}
