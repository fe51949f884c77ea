import type { BearerFailureReason } from './resource-server/bearer-verifier.js';

/**
 * The contract between the OAuth guard on the MCP routes (resource-server side) and whatever can vouch for a
 * bearer: the issuer's JWKS (`BearerVerifier`, broker off or `issued_tokens: upstream`) or, with the broker
 * issuing bound tokens, the broker itself (`BrokerAccessTokens`). The guard never looks inside a token; it asks
 * one of these and turns the verdict into a request context, a 401 challenge or a 403.
 */

/** An accepted bearer: what the request may do and what goes on to ClickHouse. */
export interface AcceptedBearer {
  ok: true;
  /** `jwt`: verified against the issuer's keys; `bound`: a token this gateway's broker issued; `opaque`: Go's soft-pass. */
  kind: 'jwt' | 'bound' | 'opaque';
  /**
   * The credential ClickHouse (or the ch-jwt-verify sidecar) sees: the verified JWT itself, or for a bound token
   * the upstream token it wraps. Never logged.
   */
  clickhouseToken: string;
  /** Claims of `clickhouseToken` (for role_claim / username_claim); `{}` for an opaque token. */
  claims: Record<string, unknown>;
  /** Scopes granted (the `scope` claim as a list). */
  scopes: string[];
  /** A printable subject for logs (`sub` or `email`), never a credential. */
  subject?: string;
  /** Unix seconds. */
  expiresAt?: number;
}

export type BearerVerdict = AcceptedBearer | { ok: false; reason: BearerFailureReason };

/**
 * Verifies the access tokens this gateway's broker handed to MCP clients (`issued_tokens: bound`): their audience
 * must be `resourceUrl` (the canonical resource URL of the request, trailing slash as `CanonicalResourceURL`).
 * Implemented by the broker module; never throws for a bad token.
 */
export abstract class BrokerAccessTokens {
  abstract verify(token: string, resourceUrl: string): Promise<BearerVerdict>;
}
