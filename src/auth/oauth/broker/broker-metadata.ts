import type { OAuthConfig } from '../../../config/config.types.js';
import { CLIENT_ASSERTION_ALGORITHMS } from '../client-assertion/client-assertion.js';
import { oidcScopesForAdvertisement } from '../resource-server/protected-resource.js';
import { joinUrlPath, normalizeUrl } from '../resource-server/public-urls.js';
import { AS_METADATA_PATHS, REGISTER_PATH, brokerPaths } from './broker-paths.js';

/** The six paths Go serves the AS metadata / OIDC configuration on (broker only). */
export { AS_METADATA_PATHS, REGISTER_PATH };

/** Go's exact tombstone body (§2.5). */
export const REGISTRATION_GONE = {
  error: 'registration_not_supported',
  error_description:
    'Dynamic Client Registration is no longer supported; clients must use OAuth Client ID Metadata Documents (CIMD). See client_id_metadata_document_supported on /.well-known/oauth-authorization-server.',
} as const;

/**
 * RFC 8414 metadata (§2.5 fields, vector 34) plus ours: `authorization_response_iss_parameter_supported` (we send
 * RFC 9207 `iss`), and `refresh_token` among the grants when bound tokens (which rotate) are issued. No
 * `registration_endpoint`, `jwks_uri`, `userinfo_endpoint` or `revocation_endpoint`.
 */
export function authorizationServerMetadata(asBase: string, oauth: OAuthConfig): Record<string, unknown> {
  const paths = brokerPaths(oauth);
  return {
    issuer: normalizeUrl(asBase),
    authorization_endpoint: joinUrlPath(asBase, paths.authorize),
    token_endpoint: joinUrlPath(asBase, paths.token),
    scopes_supported: oidcScopesForAdvertisement(oauth.scopes),
    response_types_supported: ['code'],
    grant_types_supported: oauth.issued_tokens === 'bound' ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    code_challenge_methods_supported: ['S256'],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}
