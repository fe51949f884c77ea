import type { CimdClient } from '../cimd/cimd-document.js';
import { CLIENT_ASSERTION_INVALID, ClientAssertionError, JWT_BEARER_ASSERTION_TYPE, type ClientAssertionVerifier } from './client-assertion.js';

/** Go's `/oauth/token` texts for client authentication (§2.5, authorization-code grant step 3). */
export const CLIENT_ASSERTION_FOR_PUBLIC_CLIENT = 'client_assertion not accepted for public clients';
export const CLIENT_ASSERTION_TYPE_NOT_JWT_BEARER = 'client_assertion_type must be jwt-bearer';
export const CLIENT_ASSERTION_REQUIRED = 'client_assertion required for private_key_jwt clients';
export const UNSUPPORTED_CLIENT_AUTH_METHOD = 'unsupported client auth method';

export interface TokenClientCredentials {
  /** Form values; absent and "" mean the same, as with Go's `form.Get`. */
  readonly clientAssertion?: string;
  readonly clientAssertionType?: string;
}

export interface TokenClientAuthOptions {
  readonly verifier: ClientAssertionVerifier;
  /** `JoinURLPath(AS base, token_path)`, the assertion's required audience. */
  readonly tokenEndpointUrl: string;
  /**
   * Go accepts a `private_key_jwt` client that sends no assertion at all (CIMD URL ownership plus PKCE being
   * "enough", §6.2 item 5). Off by default: a client that declared keys proves it holds them.
   */
  readonly lenientPrivateKeyJwt?: boolean;
}

/** Every refusal is 401 `invalid_client` with `WWW-Authenticate: Bearer error="invalid_client", …` (§2.5). */
export type TokenClientAuthVerdict =
  | { readonly ok: true; readonly method: 'none' | 'private_key_jwt'; readonly assertionVerified: boolean }
  | { readonly ok: false; readonly status: 401; readonly error: 'invalid_client'; readonly description: string; readonly detail?: string };

const refuse = (description: string, detail?: string): TokenClientAuthVerdict => ({
  ok: false,
  status: 401,
  error: 'invalid_client',
  description,
  ...(detail === undefined ? {} : { detail }),
});

const present = (value: string | undefined): boolean => value !== undefined && value !== '';

/**
 * Authenticates the client at `/oauth/token` by the method its CIMD document declares, in Go's order: `none`
 * refuses any assertion; `private_key_jwt` needs the jwt-bearer type and a valid assertion (§2.8). `detail` says
 * why, for logs; the client only sees Go's `description`.
 */
export async function authenticateTokenClient(
  client: Pick<CimdClient, 'clientId' | 'tokenEndpointAuthMethod' | 'jwksUri'>,
  credentials: TokenClientCredentials,
  options: TokenClientAuthOptions,
): Promise<TokenClientAuthVerdict> {
  const hasAssertion = present(credentials.clientAssertion);
  const hasType = present(credentials.clientAssertionType);
  switch (client.tokenEndpointAuthMethod as string) {
    case 'none':
      if (hasAssertion || hasType) return refuse(CLIENT_ASSERTION_FOR_PUBLIC_CLIENT);
      return { ok: true, method: 'none', assertionVerified: false };
    case 'private_key_jwt': {
      if (!hasAssertion && !hasType) {
        return options.lenientPrivateKeyJwt ? { ok: true, method: 'private_key_jwt', assertionVerified: false } : refuse(CLIENT_ASSERTION_REQUIRED);
      }
      if (credentials.clientAssertionType !== JWT_BEARER_ASSERTION_TYPE) return refuse(CLIENT_ASSERTION_TYPE_NOT_JWT_BEARER);
      try {
        await options.verifier.verify({
          assertion: credentials.clientAssertion ?? '',
          clientId: client.clientId,
          jwksUri: client.jwksUri,
          tokenEndpointUrl: options.tokenEndpointUrl,
        });
      } catch (error) {
        if (error instanceof ClientAssertionError) return refuse(CLIENT_ASSERTION_INVALID, error.detail);
        throw error;
      }
      return { ok: true, method: 'private_key_jwt', assertionVerified: true };
    }
    default:
      return refuse(UNSUPPORTED_CLIENT_AUTH_METHOD);
  }
}
