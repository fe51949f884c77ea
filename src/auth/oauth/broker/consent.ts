import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { deriveArtifactKey } from '../artifacts/artifact-keys.js';
import { GATEWAY_LABELS, claimString, openGatewayArtifact, sealGatewayArtifact } from './gateway-artifacts.js';

/**
 * The consent step (ours; the MCP spec's confused-deputy rule): before the broker sends a browser to the upstream
 * IdP on behalf of a client, the user sees which client (its name and redirect host) asks for which scopes, and
 * approves or denies. Nothing is stored server-side:
 * - the validated authorization request travels in the form as an encrypted, 10-minute `request` artifact;
 * - CSRF is a double submit bound to this browser: an HttpOnly SameSite=Lax cookie holds a random nonce, the form
 *   holds HMAC(key from signing_secret, nonce + request); a forged or replayed form from another browser fails;
 * - an approval is remembered in an encrypted cookie (per client, `consent_ttl_seconds`, 0 = never).
 */

export { CONSENT_PATH } from './broker-paths.js';
export const CONSENT_REQUEST_TTL_SECONDS = 600;
/** At most this many remembered clients per browser (the oldest are dropped). */
const MAX_REMEMBERED_CLIENTS = 20;

/** The authorization request the user is asked about (already checked against the client's CIMD document). */
export interface ConsentRequest {
  clientId: string;
  clientName: string;
  redirectUri: string;
  scope: string;
  clientState: string;
  codeChallenge: string;
  codeChallengeMethod: string;
  resource: string;
}

export function sealConsentRequest(request: ConsentRequest, secret: string, nowSeconds: number): Promise<string> {
  return sealGatewayArtifact(
    {
      client_id: request.clientId,
      client_name: request.clientName,
      redirect_uri: request.redirectUri,
      scope: request.scope,
      client_state: request.clientState,
      code_challenge: request.codeChallenge,
      code_challenge_method: request.codeChallengeMethod,
      resource: request.resource,
      exp: nowSeconds + CONSENT_REQUEST_TTL_SECONDS,
    },
    secret,
    GATEWAY_LABELS.consentRequest,
  );
}

export async function openConsentRequest(token: string, secret: string, nowSeconds: number): Promise<ConsentRequest | undefined> {
  const claims = await openGatewayArtifact(token, secret, GATEWAY_LABELS.consentRequest, nowSeconds);
  if (!claims) return undefined;
  const request: ConsentRequest = {
    clientId: claimString(claims, 'client_id'),
    clientName: claimString(claims, 'client_name'),
    redirectUri: claimString(claims, 'redirect_uri'),
    scope: claimString(claims, 'scope'),
    clientState: claimString(claims, 'client_state'),
    codeChallenge: claimString(claims, 'code_challenge'),
    codeChallengeMethod: claimString(claims, 'code_challenge_method'),
    resource: claimString(claims, 'resource'),
  };
  return request.clientId === '' || request.redirectUri === '' ? undefined : request;
}

/** Cookie names: `__Host-` (Secure, path `/`, no Domain) whenever the authorization server is served over https. */
export function consentCookieNames(secure: boolean): { csrf: string; memory: string; state: string } {
  return secure
    ? { csrf: '__Host-mcp_consent_csrf', memory: '__Host-mcp_consent', state: '__Host-mcp_oauth_state' }
    : { csrf: 'mcp_consent_csrf', memory: 'mcp_consent', state: 'mcp_oauth_state' };
}

/**
 * Binds an upstream `state` to the browser that approved it. Without this, consent protects nothing: whoever
 * approves their own request can hand the upstream URL to a victim signed in at the IdP, and the victim's code
 * would come back through the callback to the approver's redirect URI. So the browser going upstream carries an
 * HMAC of the state (keyed from `signing_secret`, so any replica can check it) and the callback requires it.
 * A few pending bindings are kept, so parallel sign-ins in one browser do not cancel each other.
 */
const MAX_STATE_BINDINGS = 5;

function stateBinding(secret: string, state: string): string {
  return createHmac('sha256', deriveArtifactKey(secret, GATEWAY_LABELS.stateBinding)).update(state).digest('base64url');
}

/** The cookie value after adding the binding of `state` to what the browser holds already. */
export function bindStateToBrowser(secret: string, state: string, existing: string | undefined): string {
  const kept = (existing ?? '').split('.').filter((item) => /^[A-Za-z0-9_-]{43}$/.test(item));
  return [stateBinding(secret, state), ...kept].slice(0, MAX_STATE_BINDINGS).join('.');
}

/** Whether the browser's cookie holds the binding of `state`; and the cookie value without it. */
export function takeStateBinding(secret: string, state: string, cookie: string | undefined): { bound: boolean; rest: string } {
  const expected = Buffer.from(stateBinding(secret, state));
  const items = (cookie ?? '').split('.').filter((item) => item !== '');
  const index = items.findIndex((item) => {
    const given = Buffer.from(item);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (index < 0) return { bound: false, rest: items.join('.') };
  items.splice(index, 1);
  return { bound: true, rest: items.join('.') };
}

export function cookieHeader(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  return [`${name}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Lax', ...(secure ? ['Secure'] : [])].join('; ');
}

export function newCsrfNonce(): string {
  return randomBytes(32).toString('base64url');
}

/** The form half of the double submit: HMAC over the browser's nonce and the exact request artifact. */
export function csrfToken(secret: string, nonce: string, requestArtifact: string): string {
  return createHmac('sha256', deriveArtifactKey(secret, GATEWAY_LABELS.consentCsrf))
    .update(`${nonce}\u0000${requestArtifact}`)
    .digest('base64url');
}

export function csrfMatches(secret: string, nonce: string | undefined, requestArtifact: string, presented: string | undefined): boolean {
  if (!nonce || !presented || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false;
  const expected = Buffer.from(csrfToken(secret, nonce, requestArtifact));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The POST must come from our own page: a cross-site `Origin` or `Sec-Fetch-Site` is refused even before the token
 * check. Browsers that send neither header (old ones, or non-browsers) still need the double submit.
 */
export function sameOriginPost(req: IncomingMessage, authorizationServerOrigin: string): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null' && origin !== authorizationServerOrigin) return false;
  if (origin === 'null') return false;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  return true;
}

interface RememberedApproval {
  c: string;
  e: number;
}

/** The clients this browser approved, still valid at `nowSeconds`. */
export async function rememberedApprovals(cookie: string | undefined, secret: string, nowSeconds: number): Promise<RememberedApproval[]> {
  if (!cookie) return [];
  const claims = await openGatewayArtifact(cookie, secret, GATEWAY_LABELS.consentMemory, nowSeconds);
  const list = claims?.approvals;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (entry): entry is RememberedApproval =>
      typeof entry === 'object' && entry !== null && typeof entry.c === 'string' && typeof entry.e === 'number' && entry.e >= nowSeconds,
  );
}

export async function isApprovalRemembered(cookie: string | undefined, clientId: string, secret: string, nowSeconds: number): Promise<boolean> {
  return (await rememberedApprovals(cookie, secret, nowSeconds)).some((entry) => entry.c === clientId);
}

/** The memory cookie value after approving `clientId` for `ttlSeconds`. */
export async function rememberApproval(
  cookie: string | undefined,
  clientId: string,
  ttlSeconds: number,
  secret: string,
  nowSeconds: number,
): Promise<{ value: string; maxAge: number }> {
  const kept = (await rememberedApprovals(cookie, secret, nowSeconds)).filter((entry) => entry.c !== clientId);
  const approvals = [...kept, { c: clientId, e: nowSeconds + ttlSeconds }].slice(-MAX_REMEMBERED_CLIENTS);
  const exp = Math.max(...approvals.map((entry) => entry.e));
  return { value: await sealGatewayArtifact({ approvals, exp }, secret, GATEWAY_LABELS.consentMemory), maxAge: exp - nowSeconds };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=/]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * Headers of every consent answer: no framing (clickjacking), no caching, no inline script or outside resources.
 * `form-action` names where the form may lead: browsers (Chromium at least) apply it to the redirects that follow
 * the POST too, so the consent page lists the upstream authorization origin (approve) and the client's redirect
 * origin (deny); error pages have no form and allow nothing.
 */
export function consentPageHeaders(formTargets: readonly string[] = []): Readonly<Record<string, string>> {
  const origins = [...new Set(formTargets.map(originOf).filter((origin): origin is string => origin !== undefined))];
  const formAction = origins.length === 0 ? "'none'" : `'self' ${origins.join(' ')}`;
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    // Not `no-referrer`: with it browsers send `Origin: null` on the form POST, which the same-origin check
    // must refuse. `same-origin` still keeps the URL (and the request in it) from the IdP and the client.
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  };
}

/** The origin of an http(s) URL for a CSP source list; anything else (or junk) is left out. */
function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}'
  + 'code{background:#f3f3f3;padding:0 .25rem}button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.75rem}';

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function renderConsentPage(input: { request: ConsentRequest; requestArtifact: string; csrf: string; actionUrl: string }): string {
  const { request } = input;
  const scopes = request.scope === '' ? ['(none requested)'] : request.scope.split(' ');
  const scopeItems = scopes.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize access to ClickHouse</title><style>${STYLE}</style></head>
<body>
<h1>Authorize access to ClickHouse</h1>
<p><strong id="client-name">${escapeHtml(request.clientName)}</strong> wants to query ClickHouse on your behalf.</p>
<p>After you sign in, you will be sent back to <strong id="redirect-host">${escapeHtml(hostOf(request.redirectUri))}</strong>.</p>
<p>Client: <code id="client-id">${escapeHtml(request.clientId)}</code></p>
<p>Requested scopes:</p><ul id="scopes">${scopeItems}</ul>
<form method="post" action="${escapeHtml(input.actionUrl)}">
<input type="hidden" name="request" value="${escapeHtml(input.requestArtifact)}">
<input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}">
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
</body></html>
`;
}

export function renderConsentError(title: string, message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>
`;
}
