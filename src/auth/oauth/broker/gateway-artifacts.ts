import { CompactEncrypt, compactDecrypt } from 'jose';
import { deriveArtifactKey } from '../artifacts/artifact-keys.js';

/**
 * The broker's own encrypted artifacts — bound access tokens, refresh tokens, the consent request and the
 * remembered-consent cookie. Unlike the pending-auth / auth-code JWEs (Go-compatible, Go's labels and claim
 * whitelist), these exist only in this gateway: each purpose has its own HKDF label under `signing_secret`
 * (`clickhouse-mcp-gateway/oauth/<purpose>/v1`), so a value minted for one purpose never opens as another, and a
 * Go replica's artifacts never open as ours. A256KW + A256GCM, `kid: gw1`, expiry checked by hand.
 */
export const GATEWAY_LABELS = {
  accessToken: 'clickhouse-mcp-gateway/oauth/access-token/v1',
  refreshToken: 'clickhouse-mcp-gateway/oauth/refresh-token/v1',
  consentRequest: 'clickhouse-mcp-gateway/oauth/consent-request/v1',
  consentMemory: 'clickhouse-mcp-gateway/oauth/consent-memory/v1',
  consentCsrf: 'clickhouse-mcp-gateway/oauth/consent-csrf/v1',
  stateBinding: 'clickhouse-mcp-gateway/oauth/state-binding/v1',
} as const;

const GATEWAY_KID = 'gw1';
/** Longer values are refused before any crypto runs (a wrapped upstream JWT is a few KiB at most). */
export const MAX_GATEWAY_ARTIFACT_LENGTH = 32 * 1024;
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export async function sealGatewayArtifact(claims: Record<string, unknown>, signingSecret: string, label: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', kid: GATEWAY_KID, typ: 'JWE' })
    .encrypt(deriveArtifactKey(signingSecret, label));
}

/**
 * Opens an artifact of one purpose; undefined for anything that is not one (wrong purpose, secret, shape, tampered,
 * or expired past `leewaySeconds`). `exp` is required. Never throws.
 */
export async function openGatewayArtifact(
  token: string,
  signingSecret: string,
  label: string,
  nowSeconds: number,
  leewaySeconds = 0,
): Promise<Record<string, unknown> | undefined> {
  if (typeof token !== 'string' || token.length > MAX_GATEWAY_ARTIFACT_LENGTH || !COMPACT_JWE.test(token)) return undefined;
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(token, deriveArtifactKey(signingSecret, label), {
      keyManagementAlgorithms: ['A256KW'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    if (protectedHeader.kid !== GATEWAY_KID || protectedHeader.zip !== undefined) return undefined;
    const claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext)) as unknown;
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp) || nowSeconds > exp + leewaySeconds) return undefined;
    return claims as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function claimString(claims: Record<string, unknown>, name: string): string {
  const value = claims[name];
  return typeof value === 'string' ? value : '';
}
