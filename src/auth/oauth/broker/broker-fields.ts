/** The form and query fields each broker endpoint reads (the rest is ignored, as Go's `r.FormValue` does). */
export const AUTHORIZE_FIELDS = ['client_id', 'redirect_uri', 'response_type', 'state', 'scope', 'code_challenge', 'code_challenge_method', 'resource'] as const;
export const CALLBACK_FIELDS = ['state', 'code', 'error', 'error_description', 'iss'] as const;
export const TOKEN_FIELDS = [
  'grant_type', 'code', 'redirect_uri', 'client_id', 'code_verifier', 'resource', 'client_secret', 'client_assertion',
  'client_assertion_type', 'refresh_token', 'scope',
] as const;
export const CONSENT_FIELDS = ['request', 'csrf', 'decision'] as const;
