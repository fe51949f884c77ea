import type { OAuthConfig } from '../../../config/config.types.js';
import { normalizedPath } from '../resource-server/public-urls.js';

/**
 * Where the broker answers. Kept apart from the broker's services so that a gateway with the broker off (which
 * only answers 404 on these paths) never loads the broker itself (its DTOs pull in class-validator).
 */
export const DEFAULT_AUTHORIZATION_PATH = '/oauth/authorize';
export const DEFAULT_CALLBACK_PATH = '/oauth/callback';
export const DEFAULT_TOKEN_PATH = '/oauth/token';
export const CONSENT_PATH = '/oauth/consent';
export const REGISTER_PATH = '/oauth/register';

/** Go's six AS-metadata / OIDC-configuration paths (§2.5). */
export const AS_METADATA_PATHS = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/oauth-authorization-server/oauth',
  '/oauth/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/openid-configuration/oauth',
  '/oauth/.well-known/openid-configuration',
] as const;

/** The configured endpoint paths, normalised as Go does (leading `/`, no trailing `/`), Go's defaults when unset. */
export function brokerPaths(oauth: Pick<OAuthConfig, 'authorization_path' | 'callback_path' | 'token_path'>) {
  return {
    authorize: normalizedPath(oauth.authorization_path, DEFAULT_AUTHORIZATION_PATH),
    callback: normalizedPath(oauth.callback_path, DEFAULT_CALLBACK_PATH),
    token: normalizedPath(oauth.token_path, DEFAULT_TOKEN_PATH),
  };
}
