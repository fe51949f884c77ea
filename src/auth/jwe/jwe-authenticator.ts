import type { CallerIdentity, ConnectionOverrides } from '../../common/request-context.js';

/**
 * The contract between the JWE core (token parsing, claims → connection; `JweAuthenticatorService`) and the HTTP
 * side (routes, guard, generator, metrics). The HTTP side injects `JweAuthenticator` and never looks inside a token.
 */

/** Why a token was refused, as counted in metrics (`ok` for an accepted one). */
export type JweOutcome =
  | 'ok'
  | 'expired'
  | 'bad_signature'
  | 'disallowed_claim'
  | 'malformed'
  | 'missing_claim'
  | 'invalid_claim';

export type JweAuthResult =
  | {
      ok: true;
      /** kind `jwe`, cacheKey a hash of the token (never the token), subject the token's username. */
      identity: CallerIdentity;
      /** The token's own, self-contained connection (nothing of the operator's endpoint or credentials). */
      connection: ConnectionOverrides;
      /** Unix seconds, when the token carries `exp`. */
      expiresAt?: number;
    }
  | {
      ok: false;
      outcome: Exclude<JweOutcome, 'ok'>;
      /** Safe for the caller (no token, key, password or file path), e.g. `invalid JWE token`. */
      message: string;
    };

export abstract class JweAuthenticator {
  /** Verifies a token with the secrets of the configuration in force. Never throws for a bad token. */
  abstract authenticate(token: string): Promise<JweAuthResult>;
}
