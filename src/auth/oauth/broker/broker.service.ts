import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../../common/logging/logging.module.js';
import { ConfigStore } from '../../../config/config.store.js';
import type { GatewayConfig, OAuthConfig } from '../../../config/config.types.js';
import { BodyTooLargeError, readBody } from '../../../mcp/transports/http-checks.js';
import { PENDING_AUTH_TTL_SECONDS, pkceS256Challenge } from '../artifacts/artifact-keys.js';
import { decodeAuthCode, decodePendingAuth, encodeAuthCode, encodePendingAuth, type PendingAuth } from '../artifacts/broker-artifacts.js';
import type { CimdClient } from '../cimd/cimd-document.js';
import { CimdResolver } from '../cimd/cimd-resolver.js';
import { ClientAssertionVerifier } from '../client-assertion/client-assertion.js';
import { authenticateTokenClient } from '../client-assertion/token-client-auth.js';
import {
  authorizationServerBaseUrl,
  canonicalResourceUrl,
  joinUrlPath,
  normalizeUrl,
  normalizedPath,
  resourceBaseUrl,
} from '../resource-server/public-urls.js';
import { mintBoundAccessToken, mintBoundRefreshToken, openBoundRefreshToken } from './bound-tokens.js';
import {
  publicRequestView,
  publicServerView,
  queryOf,
  firstValues,
  cookiesOf,
  sendJson,
  sendOAuthError,
  sendRedirect,
} from './broker-http.js';
import { BrokerMetrics, type BrokerEndpoint } from './broker-metrics.js';
import { AUTHORIZE_FIELDS, CALLBACK_FIELDS, CONSENT_FIELDS, TOKEN_FIELDS } from './broker-fields.js';
import type { TokenForm } from './broker.dto.js';

/**
 * The DTOs (class-validator) load on the broker's first request, not at boot: class-validator costs several MB of
 * resident memory that a gateway should not pay before anyone uses the broker.
 */
let dtoModule: Promise<typeof import('./broker.dto.js')> | undefined;
const brokerDtos = (): Promise<typeof import('./broker.dto.js')> => (dtoModule ??= import('./broker.dto.js'));
import {
  consentPageHeaders,
  CONSENT_PATH,
  bindStateToBrowser,
  consentCookieNames,
  takeStateBinding,
  cookieHeader,
  csrfMatches,
  csrfToken,
  isApprovalRemembered,
  newCsrfNonce,
  openConsentRequest,
  rememberApproval,
  renderConsentError,
  renderConsentPage,
  sameOriginPost,
  sealConsentRequest,
  type ConsentRequest,
} from './consent.js';
import { UpstreamFailure, UpstreamIdp } from './upstream-idp.js';
import {
  chooseClientToken,
  clientFacingAuthorizationError,
  collapseScope,
  configuredUpstreamScope,
  normalizeUpstreamScopeForClient,
  upstreamAuthorizeUrl,
  type UpstreamTokens,
} from './upstream-rules.js';
import { brokerPaths, DEFAULT_AUTHORIZATION_PATH, DEFAULT_CALLBACK_PATH, DEFAULT_TOKEN_PATH } from './broker-paths.js';

export { brokerPaths, DEFAULT_AUTHORIZATION_PATH, DEFAULT_CALLBACK_PATH, DEFAULT_TOKEN_PATH };

/** `/oauth/token` bodies are a handful of form fields; a wrapped refresh token is the largest. */
export const TOKEN_MAX_BODY_BYTES = 64 * 1024;
const CONSENT_MAX_BODY_BYTES = 64 * 1024;
/** §2.9: refresh the upstream id_token when it has less than this left. */
const NEAR_EXPIRY_SECONDS = 3300;
const FORM_CONTENT_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;


/** The URLs one request sees (all derived per request; `public_*_url` pin them). */
interface RequestUrls {
  config: GatewayConfig;
  oauth: OAuthConfig;
  /** AS base, no trailing `/` (= metadata `issuer`, the RFC 9207 `iss`). */
  issuer: string;
  resourceBase: string;
  callbackUrl: string;
  tokenEndpoint: string;
  secureCookies: boolean;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const trimSlash = (value: string) => value.replace(/\/+$/, '');

/**
 * The broker endpoints (spec §2.5) with Go's check order and error bodies, plus what the issue adds: consent,
 * RFC 9207 `iss`, upstream `?error=` passed back, `no-store` on token answers, and bound tokens with rotating refresh
 * tokens (`issued_tokens: bound`). Errors are never redirected to a client before its redirect_uri is proven.
 * Logs name the client and the outcome only: never a code, a token, a verifier or a secret.
 */
@Injectable()
export class BrokerService {
  private readonly log: Logger;

  constructor(
    private readonly config: ConfigStore,
    private readonly cimd: CimdResolver,
    private readonly assertions: ClientAssertionVerifier,
    private readonly upstream: UpstreamIdp,
    private readonly metrics: BrokerMetrics,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'oauth-broker' });
  }

  private urls(req: IncomingMessage): RequestUrls {
    const config = this.config.current;
    const oauth = config.server.oauth;
    const view = publicRequestView(req);
    const server = publicServerView(config);
    const issuer = normalizeUrl(authorizationServerBaseUrl(view, server, oauth));
    const paths = brokerPaths(oauth);
    return {
      config,
      oauth,
      issuer,
      resourceBase: resourceBaseUrl(view, server, oauth),
      callbackUrl: joinUrlPath(issuer, paths.callback),
      tokenEndpoint: joinUrlPath(issuer, paths.token),
      secureCookies: issuer.startsWith('https://'),
    };
  }

  private fail(res: ServerResponse, endpoint: BrokerEndpoint, status: number, error: string, description: string): void {
    this.metrics.record(endpoint, error);
    sendOAuthError(res, status, error, description);
  }

  // ---------------------------------------------------------------- /oauth/authorize

  async authorize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') return this.fail(res, 'authorize', 405, 'invalid_request', 'method not allowed');
    const { validateParams, AuthorizeQuery } = await brokerDtos();
    const parsed = await validateParams(AuthorizeQuery, firstValues(queryOf(req), AUTHORIZE_FIELDS));
    if (!parsed.ok) return this.fail(res, 'authorize', 400, 'invalid_request', parsed.message);
    const query = parsed.value;
    const clientId = query.client_id ?? '';
    const redirectUri = query.redirect_uri ?? '';
    if (clientId === '' || redirectUri === '' || query.response_type !== 'code') {
      return this.fail(res, 'authorize', 400, 'invalid_request', 'missing client_id, redirect_uri, or response_type=code');
    }
    const client = await this.resolveClient(clientId);
    if (!client) return this.fail(res, 'authorize', 400, 'invalid_client', 'unknown OAuth client');
    if (!client.redirectUris.includes(redirectUri)) {
      return this.fail(res, 'authorize', 400, 'invalid_request', 'redirect_uri not registered for this client');
    }
    if ((query.code_challenge ?? '') === '' || query.code_challenge_method !== 'S256') {
      return this.fail(res, 'authorize', 400, 'invalid_request', 'PKCE S256 is required');
    }
    const urls = this.urls(req);
    const resource = query.resource ?? '';
    if (resource !== '' && trimSlash(resource) !== trimSlash(urls.resourceBase)) {
      return this.fail(res, 'authorize', 400, 'invalid_target', 'resource indicator does not identify this MCP server');
    }
    const request: ConsentRequest = {
      clientId,
      clientName: client.clientName,
      redirectUri,
      scope: collapseScope(query.scope ?? ''),
      clientState: query.state ?? '',
      codeChallenge: query.code_challenge ?? '',
      codeChallengeMethod: 'S256',
      resource,
    };
    const secret = urls.oauth.signing_secret;
    const cookies = cookiesOf(req);
    const names = consentCookieNames(urls.secureCookies);
    if (urls.oauth.consent && !(await isApprovalRemembered(cookies.get(names.memory), clientId, secret, nowSeconds()))) {
      return this.showConsent(res, urls, request, cookies.get(names.csrf));
    }
    return this.redirectUpstream(req, res, urls, request, 'authorize');
  }

  private async resolveClient(clientId: string): Promise<CimdClient | undefined> {
    try {
      return await this.cimd.resolve(clientId);
    } catch (error) {
      this.log.info({ client_id: clientId.slice(0, 256), reason: (error as Error).message }, 'OAuth client refused');
      return undefined;
    }
  }

  private async showConsent(res: ServerResponse, urls: RequestUrls, request: ConsentRequest, existingNonce: string | undefined): Promise<void> {
    const secret = urls.oauth.signing_secret;
    const nonce = existingNonce && /^[A-Za-z0-9_-]{43}$/.test(existingNonce) ? existingNonce : newCsrfNonce();
    const requestArtifact = await sealConsentRequest(request, secret, nowSeconds());
    const page = renderConsentPage({
      request,
      requestArtifact,
      csrf: csrfToken(secret, nonce, requestArtifact),
      actionUrl: joinUrlPath(urls.issuer, CONSENT_PATH),
    });
    const names = consentCookieNames(urls.secureCookies);
    res.statusCode = 200;
    const formTargets = [joinUrlPath(urls.issuer, CONSENT_PATH), urls.oauth.auth_url.trim(), request.redirectUri];
    for (const [name, value] of Object.entries(consentPageHeaders(formTargets))) res.setHeader(name, value);
    res.setHeader('Set-Cookie', cookieHeader(names.csrf, nonce, 600, urls.secureCookies));
    res.setHeader('Content-Length', Buffer.byteLength(page));
    res.end(page);
    this.metrics.record('authorize', 'consent_page');
  }

  /** Steps 7–10 of /authorize: upstream PKCE pair, pending-auth state (minted only now, after consent), 302. */
  private async redirectUpstream(req: IncomingMessage, res: ServerResponse, urls: RequestUrls, request: ConsentRequest, endpoint: BrokerEndpoint): Promise<void> {
    const verifier = randomBytes(32).toString('base64url');
    const pending: PendingAuth = {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      scope: request.scope,
      clientState: request.clientState,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      resource: request.resource,
      upstreamPkceVerifier: verifier,
    };
    let state: string;
    try {
      state = await encodePendingAuth(pending, urls.oauth.signing_secret, { nowSeconds: nowSeconds() });
    } catch {
      return this.fail(res, endpoint, 500, 'server_error', 'failed to initialize OAuth state');
    }
    const authUrl = urls.oauth.auth_url.trim();
    if (authUrl === '') return this.fail(res, endpoint, 502, 'server_error', 'failed to resolve upstream authorization endpoint');
    if (urls.oauth.consent) {
      // The approval belongs to this browser: the callback accepts this state only from it (see bindStateToBrowser).
      const names = consentCookieNames(urls.secureCookies);
      const binding = cookieHeader(names.state, bindStateToBrowser(urls.oauth.signing_secret, state, cookiesOf(req).get(names.state)), PENDING_AUTH_TTL_SECONDS, urls.secureCookies);
      const already = res.getHeader('Set-Cookie');
      res.setHeader('Set-Cookie', [...(Array.isArray(already) ? already : already === undefined ? [] : [String(already)]), binding]);
    }
    this.metrics.record(endpoint, 'redirect_upstream');
    sendRedirect(res, upstreamAuthorizeUrl(authUrl, urls.oauth, { redirectUri: urls.callbackUrl, state, codeChallenge: pkceS256Challenge(verifier) }));
  }

  // ---------------------------------------------------------------- /oauth/consent

  async consent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const page = (status: number, outcome: string, title: string, message: string) => {
      const html = renderConsentError(title, message);
      res.statusCode = status;
      for (const [name, value] of Object.entries(consentPageHeaders())) res.setHeader(name, value);
      res.setHeader('Content-Length', Buffer.byteLength(html));
      res.end(html);
      this.metrics.record('consent', outcome);
    };
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return page(405, 'invalid_request', 'Method not allowed', 'The consent form is submitted with POST.');
    }
    const urls = this.urls(req);
    if (!sameOriginPost(req, new URL(urls.issuer).origin)) {
      return page(403, 'forbidden', 'Request refused', 'This consent form was not submitted from this server’s own page.');
    }
    const form = await this.readForm(req, CONSENT_MAX_BODY_BYTES);
    if (!form) return page(400, 'invalid_request', 'Bad request', 'The consent form could not be read; start the sign-in again from your application.');
    const { validateParams, ConsentForm } = await brokerDtos();
    const parsed = await validateParams(ConsentForm, firstValues(form, CONSENT_FIELDS));
    if (!parsed.ok || !parsed.value.request || !parsed.value.decision) {
      return page(400, 'invalid_request', 'Bad request', 'The consent form is incomplete; start the sign-in again from your application.');
    }
    const secret = urls.oauth.signing_secret;
    const names = consentCookieNames(urls.secureCookies);
    const cookies = cookiesOf(req);
    if (!csrfMatches(secret, cookies.get(names.csrf), parsed.value.request, parsed.value.csrf)) {
      return page(403, 'forbidden', 'Request refused', 'The consent form’s security token is missing or does not belong to this browser. Start the sign-in again from your application.');
    }
    const now = nowSeconds();
    const request = await openConsentRequest(parsed.value.request, secret, now);
    if (!request) return page(400, 'invalid_request', 'Request expired', 'This authorization request is unknown or has expired; start the sign-in again from your application.');
    const setCookies = [cookieHeader(names.csrf, '', 0, urls.secureCookies)];
    if (parsed.value.decision === 'deny') {
      res.setHeader('Set-Cookie', setCookies);
      this.log.info({ client_id: request.clientId }, 'OAuth consent denied');
      this.metrics.record('consent', 'consent_denied');
      return sendRedirect(res, clientRedirect(request.redirectUri, { error: 'access_denied', state: request.clientState, iss: urls.issuer }));
    }
    const ttl = urls.oauth.consent_ttl_seconds;
    if (ttl > 0) {
      const memory = await rememberApproval(cookies.get(names.memory), request.clientId, ttl, secret, now);
      setCookies.push(cookieHeader(names.memory, memory.value, memory.maxAge, urls.secureCookies));
    }
    res.setHeader('Set-Cookie', setCookies);
    this.log.info({ client_id: request.clientId }, 'OAuth consent approved');
    return this.redirectUpstream(req, res, urls, request, 'consent');
  }

  // ---------------------------------------------------------------- /oauth/callback

  async callback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { validateParams, CallbackQuery } = await brokerDtos();
    const parsed = await validateParams(CallbackQuery, firstValues(queryOf(req), CALLBACK_FIELDS));
    if (!parsed.ok) return this.fail(res, 'callback', 400, 'invalid_request', parsed.message);
    const { state = '', code = '', error = '' } = parsed.value;
    const urls = this.urls(req);
    const secret = urls.oauth.signing_secret;
    if (urls.oauth.consent && state !== '') {
      const names = consentCookieNames(urls.secureCookies);
      const binding = takeStateBinding(secret, state, cookiesOf(req).get(names.state));
      if (!binding.bound) {
        this.log.warn('OAuth callback for an authorization this browser did not approve; refused');
        return this.fail(res, 'callback', 400, 'invalid_request', 'authorization request was not approved in this browser');
      }
      res.setHeader('Set-Cookie', cookieHeader(names.state, binding.rest, binding.rest === '' ? 0 : PENDING_AUTH_TTL_SECONDS, urls.secureCookies));
    }
    if (error !== '' && state !== '') {
      // Ours (Go strands the user): an upstream refusal goes back to the client, once the state proves who it is.
      const pending = await decodePendingAuth(state, secret, { nowSeconds: nowSeconds() }).catch(() => undefined);
      if (!pending || pending.redirectUri === '') {
        return this.fail(res, 'callback', 400, 'invalid_request', 'unknown or expired authorization request');
      }
      const location = safeClientRedirect(pending.redirectUri, { error: clientFacingAuthorizationError(error), state: pending.clientState, iss: urls.issuer });
      if (!location) return this.fail(res, 'callback', 502, 'server_error', 'pending-auth carried an unparseable redirect_uri');
      this.metrics.record('callback', 'upstream_error');
      return sendRedirect(res, location);
    }
    if (state === '' || code === '') return this.fail(res, 'callback', 400, 'invalid_request', 'missing state or code on callback');
    const pending = await decodePendingAuth(state, secret, { nowSeconds: nowSeconds() }).catch(() => undefined);
    if (!pending) return this.fail(res, 'callback', 400, 'invalid_request', 'unknown or expired authorization request');
    let authCode: string;
    try {
      authCode = await encodeAuthCode(
        {
          clientId: pending.clientId,
          redirectUri: pending.redirectUri,
          scope: pending.scope,
          codeChallenge: pending.codeChallenge,
          codeChallengeMethod: pending.codeChallengeMethod,
          resource: pending.resource,
          upstreamAuthCode: code,
          upstreamPkceVerifier: pending.upstreamPkceVerifier,
        },
        secret,
        { nowSeconds: nowSeconds() },
      );
    } catch {
      return this.fail(res, 'callback', 500, 'server_error', 'failed to issue authorization code');
    }
    const location = safeClientRedirect(pending.redirectUri, { code: authCode, state: pending.clientState, iss: urls.issuer });
    if (!location) return this.fail(res, 'callback', 502, 'server_error', 'pending-auth carried an unparseable redirect_uri');
    this.metrics.record('callback', 'ok');
    sendRedirect(res, location);
  }

  // ---------------------------------------------------------------- /oauth/token

  async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return this.fail(res, 'token', 405, 'invalid_request', 'method not allowed');
    const body = await this.readForm(req, TOKEN_MAX_BODY_BYTES);
    if (!body) return this.fail(res, 'token', 400, 'invalid_request', 'invalid token request');
    // Go's ParseForm: body values first, then the query's; Get takes the first.
    for (const [name, value] of queryOf(req)) body.append(name, value);
    const { validateParams, TokenForm } = await brokerDtos();
    const parsed = await validateParams(TokenForm, firstValues(body, TOKEN_FIELDS));
    if (!parsed.ok) return this.fail(res, 'token', 400, 'invalid_request', `invalid token request: ${parsed.message}`);
    const form = parsed.value;
    const urls = this.urls(req);
    if (form.grant_type === 'authorization_code') return this.codeGrant(res, urls, form);
    if (form.grant_type === 'refresh_token' && urls.oauth.issued_tokens === 'bound') return this.refreshGrant(res, urls, form);
    return this.fail(res, 'token', 400, 'unsupported_grant_type', 'unsupported grant type');
  }

  /** The body as form values: only `application/x-www-form-urlencoded` is read (as Go); undefined when unreadable. */
  private async readForm(req: IncomingMessage, limit: number): Promise<URLSearchParams | undefined> {
    let raw: Buffer;
    try {
      raw = await readBody(req, limit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return undefined;
      return undefined;
    }
    if (!FORM_CONTENT_TYPE.test(String(req.headers['content-type'] ?? ''))) return new URLSearchParams();
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return undefined;
    }
    return new URLSearchParams(text);
  }

  /** Client authentication shared by both grants (steps 1–3). Undefined when an answer was sent. */
  private async authenticateClient(res: ServerResponse, urls: RequestUrls, form: TokenForm): Promise<CimdClient | undefined> {
    if ((form.client_secret ?? '') !== '') {
      this.fail(res, 'token', 401, 'invalid_client', 'client_secret authentication not supported');
      return undefined;
    }
    const client = await this.resolveClient(form.client_id ?? '');
    if (!client) {
      this.fail(res, 'token', 401, 'invalid_client', 'unknown OAuth client');
      return undefined;
    }
    const verdict = await authenticateTokenClient(
      client,
      { clientAssertion: form.client_assertion, clientAssertionType: form.client_assertion_type },
      { verifier: this.assertions, tokenEndpointUrl: urls.tokenEndpoint },
    );
    if (!verdict.ok) {
      this.log.info({ client_id: client.clientId, reason: verdict.detail ?? verdict.description }, 'OAuth client authentication failed');
      this.fail(res, 'token', 401, 'invalid_client', verdict.description);
      return undefined;
    }
    return client;
  }

  private async codeGrant(res: ServerResponse, urls: RequestUrls, form: TokenForm): Promise<void> {
    const client = await this.authenticateClient(res, urls, form);
    if (!client) return;
    const redirectUri = form.redirect_uri ?? '';
    if (!client.redirectUris.includes(redirectUri)) {
      return this.fail(res, 'token', 400, 'invalid_grant', 'redirect_uri not registered for this client');
    }
    const code = await decodeAuthCode(form.code ?? '', urls.oauth.signing_secret, { nowSeconds: nowSeconds() }).catch(() => undefined);
    if (!code || code.clientId !== client.clientId || code.redirectUri !== redirectUri) {
      return this.fail(res, 'token', 400, 'invalid_grant', 'invalid authorization code');
    }
    if (code.codeChallenge === '' || pkceS256Challenge(form.code_verifier ?? '') !== code.codeChallenge) {
      return this.fail(res, 'token', 400, 'invalid_grant', 'invalid PKCE verifier');
    }
    const resource = form.resource ?? '';
    if (resource !== '' && code.resource !== '' && trimSlash(resource) !== trimSlash(code.resource)) {
      return this.fail(res, 'token', 400, 'invalid_target', 'resource indicator does not match the one used at /authorize');
    }
    if (code.upstreamAuthCode === '' || code.upstreamPkceVerifier === '') {
      return this.fail(res, 'token', 400, 'invalid_grant', 'invalid authorization code');
    }
    if (urls.oauth.token_url.trim() === '') return this.fail(res, 'token', 502, 'server_error', 'failed to resolve upstream token endpoint');
    let tokens: UpstreamTokens;
    try {
      tokens = await this.upstream.exchangeCode({ code: code.upstreamAuthCode, codeVerifier: code.upstreamPkceVerifier, redirectUri: urls.callbackUrl });
    } catch (error) {
      return this.upstreamTokenFailure(res, error, client.clientId, 'upstream rejected the authorization code', 'upstream code exchange failed');
    }
    await this.issue(res, urls, client.clientId, code.resource, code.scope, tokens, undefined);
  }

  private async refreshGrant(res: ServerResponse, urls: RequestUrls, form: TokenForm): Promise<void> {
    const client = await this.authenticateClient(res, urls, form);
    if (!client) return;
    const refresh = await openBoundRefreshToken(form.refresh_token ?? '', urls.oauth.signing_secret, nowSeconds());
    if (!refresh || refresh.clientId !== client.clientId) return this.fail(res, 'token', 400, 'invalid_grant', 'invalid refresh token');
    const resource = form.resource ?? '';
    if (resource !== '' && trimSlash(resource) !== trimSlash(refresh.resource !== '' ? refresh.resource : urls.resourceBase)) {
      return this.fail(res, 'token', 400, 'invalid_target', 'resource indicator does not match the one used at /authorize');
    }
    let tokens: UpstreamTokens;
    try {
      tokens = await this.upstream.refresh(refresh.upstreamRefreshToken);
    } catch (error) {
      return this.upstreamTokenFailure(res, error, client.clientId, 'upstream rejected the refresh token', 'upstream refresh failed');
    }
    await this.issue(res, urls, client.clientId, refresh.resource, refresh.scope, tokens, refresh.upstreamRefreshToken, refresh.grantExpiresAt);
  }

  private upstreamTokenFailure(res: ServerResponse, error: unknown, clientId: string, rejected: string, transport: string): void {
    const failure = error instanceof UpstreamFailure ? error : new UpstreamFailure('transport', 'unexpected failure');
    this.log.warn({ client_id: clientId, upstream: failure.kind, detail: failure.detail }, 'OAuth upstream token call failed');
    switch (failure.kind) {
      case 'rejected':
        return this.fail(res, 'token', 400, 'invalid_grant', rejected);
      case 'read':
        return this.fail(res, 'token', 502, 'server_error', 'failed to read upstream token response');
      case 'non_json':
        return this.fail(res, 'token', 502, 'server_error', 'upstream returned non-JSON response');
      case 'no_token':
        return this.fail(res, 'token', 502, 'server_error', 'upstream returned no usable token');
      default:
        return this.fail(res, 'token', 502, 'server_error', transport);
    }
  }

  /**
   * §2.9 then the answer: validate the identity (id_token against the IdP keys, else userinfo), refresh a
   * near-expiry id_token (soft-fail), pick the token, and answer it raw (`upstream`) or bound (`bound`).
   */
  private async issue(
    res: ServerResponse,
    urls: RequestUrls,
    clientId: string,
    resource: string,
    storedScope: string,
    tokens: UpstreamTokens,
    previousRefreshToken: string | undefined,
    grantExpiresAt?: number,
  ): Promise<void> {
    let claims: Record<string, unknown>;
    let idTokenExp: number | undefined;
    if (tokens.idToken !== '') {
      try {
        claims = await this.upstream.validateIdToken(tokens.idToken);
      } catch (error) {
        this.log.warn({ client_id: clientId, detail: (error as UpstreamFailure).detail ?? 'unexpected' }, 'OAuth upstream id_token refused');
        return this.fail(res, 'token', 502, 'server_error', 'failed to validate upstream identity token');
      }
      idTokenExp = typeof claims.exp === 'number' ? Math.trunc(claims.exp) : undefined;
    } else {
      try {
        claims = await this.upstream.userinfo(tokens.accessToken);
      } catch (error) {
        this.log.warn({ client_id: clientId, detail: (error as UpstreamFailure).detail ?? 'unexpected' }, 'OAuth upstream userinfo failed');
        return this.fail(res, 'token', 502, 'server_error', 'failed to validate upstream identity');
      }
    }
    let upstreamRefreshToken = tokens.refreshToken;
    const now = nowSeconds();
    if (upstreamRefreshToken !== '' && idTokenExp !== undefined && idTokenExp > 0 && idTokenExp - now < NEAR_EXPIRY_SECONDS) {
      try {
        const refreshed = await this.upstream.refresh(upstreamRefreshToken);
        if (refreshed.idToken === '') throw new UpstreamFailure('no_token', 'refresh answer without id_token');
        const refreshedClaims = await this.upstream.validateIdToken(refreshed.idToken);
        tokens = { ...tokens, idToken: refreshed.idToken };
        claims = refreshedClaims;
        idTokenExp = typeof refreshedClaims.exp === 'number' ? Math.trunc(refreshedClaims.exp) : undefined;
        if (refreshed.refreshToken !== '') upstreamRefreshToken = refreshed.refreshToken;
      } catch (error) {
        const detail = error instanceof UpstreamFailure ? `${error.kind}: ${error.detail}` : 'unexpected';
        this.log.warn({ client_id: clientId, detail }, 'OAuth near-expiry id_token refresh failed; keeping the original token');
      }
    }
    const chosen = chooseClientToken(tokens, urls.oauth, idTokenExp, nowSeconds());
    const scope = normalizeUpstreamScopeForClient(tokens.scope || storedScope || configuredScopes(urls.oauth));
    const headers = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    if (urls.oauth.issued_tokens !== 'bound') {
      this.metrics.record('token', 'ok');
      this.log.info({ client_id: clientId, issued: 'upstream' }, 'OAuth token issued');
      return sendJson(res, 200, {
        access_token: chosen.token,
        token_type: tokens.tokenType || 'Bearer',
        expires_in: chosen.expiresIn,
        ...(scope === '' ? {} : { scope }),
      }, headers);
    }
    const issuedAt = nowSeconds();
    const upstreamExpiresAt = chosen.expiresAt ?? issuedAt + chosen.expiresIn;
    if (upstreamExpiresAt <= issuedAt) {
      // The id_token check allows 60 s of clock skew; a token ClickHouse would already refuse must not be wrapped
      // into a fresh bound token (the client would hold a "valid" token that fails every query and never refreshes).
      this.log.warn({ client_id: clientId }, 'OAuth upstream token already expired; not issued');
      return this.fail(res, 'token', 502, 'server_error', 'upstream returned an expired token');
    }
    const subject = typeof claims.sub === 'string' ? claims.sub : typeof claims.email === 'string' ? claims.email : '';
    const access = await mintBoundAccessToken(
      {
        audience: canonicalResourceUrl(resource !== '' ? resource : urls.resourceBase),
        issuer: urls.issuer,
        subject,
        clientId,
        scope,
        upstreamToken: chosen.token,
        upstreamExpiresAt,
      },
      urls.oauth.signing_secret,
      urls.oauth.access_token_ttl_seconds,
      issuedAt,
    );
    // A refresh grant whose upstream did not rotate keeps wrapping the refresh token it already had.
    const wrapped = upstreamRefreshToken !== '' ? upstreamRefreshToken : (previousRefreshToken ?? '');
    const refreshToken = wrapped === ''
      ? undefined
      : await mintBoundRefreshToken(
          { upstreamRefreshToken: wrapped, clientId, resource, scope: storedScope, ...(grantExpiresAt !== undefined ? { grantExpiresAt } : {}) },
          urls.oauth.signing_secret,
          urls.oauth.refresh_token_ttl_seconds,
          issuedAt,
        );
    this.metrics.record('token', 'ok');
    this.log.info({ client_id: clientId, issued: 'bound', refresh: refreshToken !== undefined }, 'OAuth token issued');
    sendJson(res, 200, {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: Math.max(1, access.expiresAt - issuedAt),
      ...(scope === '' ? {} : { scope }),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    }, headers);
  }
}

function configuredScopes(oauth: OAuthConfig): string {
  return oauth.scopes.length > 0 ? configuredUpstreamScope(oauth) : '';
}

/** The client's redirect_uri with `params` set (empty values left out), query re-encoded sorted (as Go). */
export function clientRedirect(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== '') url.searchParams.set(name, value);
  }
  url.searchParams.sort();
  return url.toString();
}

function safeClientRedirect(redirectUri: string, params: Record<string, string>): string | undefined {
  try {
    return clientRedirect(redirectUri, params);
  } catch {
    return undefined;
  }
}
