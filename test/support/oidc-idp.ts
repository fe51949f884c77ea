import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import Provider, { type ProviderContext } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import type { Page } from 'playwright-core';

/**
 * Test support (not used by the service): a real OpenID Provider (`oidc-provider`, in-process) on
 * `http://127.0.0.1:<random port>` to stand in for Google/Auth0/Keycloak upstream of the gateway's broker.
 *
 * - One confidential client (`client_secret_post`), PKCE S256 required, scopes `openid email profile offline_access`.
 * - Any login is accepted (any password): `sub` = the login, `email` = `<login>@example.test`,
 *   `email_verified: true`, `roles` from the options; all of them in the id_token (`conformIdTokenClaims: false`).
 * - Refresh tokens rotate on every use; a replayed (already rotated) refresh token is refused with
 *   `invalid_grant` and revokes the whole grant (oidc-provider's reuse detection).
 * - Access tokens are opaque (usable at userinfo) unless a resource indicator applies: an authorization request
 *   with `resource=<url>` or `setAccessTokenAudience(url)` makes them RS256 JWTs with `aud` = that URL and
 *   `email`/`roles` claims (for the resource-server and ClickHouse-identity tests).
 */
export interface TestIdpAccount {
  readonly sub: string;
  readonly email: string;
  readonly email_verified: true;
  readonly roles: readonly string[];
}

/** Lifetimes in seconds. Changeable at any time with `setTtls`; they apply to tokens issued afterwards. */
export interface TestIdpTtls {
  idToken: number;
  accessToken: number;
  refreshToken: number;
  authorizationCode: number;
}

export interface TestIdpOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Usually unknown at start (the gateway listens later): set them with `setRedirectUris`. */
  readonly redirectUris?: readonly string[];
  readonly ttls?: Partial<TestIdpTtls>;
  /** Roles of a login (claim `roles`); default none. */
  readonly roles?: readonly string[] | ((login: string) => readonly string[]);
  /**
   * `always` (default): every code grant of the client gets a refresh token. `offline_access`: only when the
   * granted scope holds `offline_access`, which oidc-provider (per OIDC Core §11) keeps only if the
   * authorization request also carries `prompt=consent` — what a caller must then send.
   */
  readonly refreshTokens?: 'always' | 'offline_access';
}

export interface TokenCall {
  readonly grantType: string | undefined;
  readonly status: number;
}

export interface TestIdp {
  /** `http://127.0.0.1:<port>` exactly (no trailing slash), as in every token's `iss`. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly discoveryUrl: string;
  readonly jwksUrl: string;
  readonly authUrl: string;
  readonly tokenUrl: string;
  readonly userinfoUrl: string;
  readonly revocationUrl: string;
  /** The signing key set the IdP publishes (public parts only). */
  readonly publicJwks: { keys: JWK[] };
  /** Every POST to the token endpoint, in order (also failed ones). */
  readonly tokenCalls: readonly TokenCall[];
  setRedirectUris(uris: readonly string[]): void;
  setTtls(ttls: Partial<TestIdpTtls>): void;
  /** `undefined` = opaque access tokens unless the request names a `resource`. */
  setAccessTokenAudience(audience: string | undefined): void;
  account(login: string): TestIdpAccount;
  /** Forgets every session, grant, code and token: all issued refresh tokens stop working. */
  revokeEverything(): void;
  /**
   * Signs any JWT with the IdP's own key (header `kid` and `alg: RS256` unless overridden), for resource-server
   * tests that need a token the IdP would not mint (wrong `aud`, expired, missing scope…).
   * Defaults: `iss` = issuer, `iat` = now, `exp` = now + 300 s; claims given win.
   */
  signJwt(claims: JWTPayload, header?: Partial<JWTHeaderParameters>): Promise<string>;
  /** `completeUpstreamLogin` against this IdP. */
  completeLogin(authorizeUrl: string, login: string, options?: UpstreamLoginOptions): Promise<string>;
  close(): Promise<void>;
}

const SCOPES = ['openid', 'email', 'profile', 'offline_access'];
const DEFAULT_TTLS: TestIdpTtls = { idToken: 3600, accessToken: 3600, refreshToken: 86_400, authorizationCode: 60 };

export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  const clientId = options.clientId ?? 'gateway-upstream-client';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  let redirectUris = [...(options.redirectUris ?? [])];
  const ttls: TestIdpTtls = { ...DEFAULT_TTLS, ...options.ttls };
  let accessTokenAudience: string | undefined;
  const rolesOf = (login: string): readonly string[] =>
    typeof options.roles === 'function' ? options.roles(login) : (options.roles ?? []);
  const account = (login: string): TestIdpAccount => ({ sub: login, email: `${login}@example.test`, email_verified: true, roles: [...rolesOf(login)] });

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `test-idp-${randomBytes(4).toString('hex')}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };

  // Storage generation: `revokeEverything` swaps in an empty memory store for every model at once.
  let storage = createMemoryAdapter();
  const adapters = new Map<string, Record<string, (...args: unknown[]) => unknown>>();
  let generation = 0;
  let adaptersGeneration = 0;
  const storeFor = (model: string) => {
    if (adaptersGeneration !== generation) {
      adapters.clear();
      adaptersGeneration = generation;
    }
    let adapter = adapters.get(model);
    if (!adapter) {
      adapter = storage(model) as Record<string, (...args: unknown[]) => unknown>;
      adapters.set(model, adapter);
    }
    return adapter;
  };
  /**
   * The client is looked up lazily (model `Client`) so its redirect_uris can change after start; oidc-provider
   * caches a client by the hash of its properties, so a change takes effect on the next request.
   */
  class TestIdpAdapter {
    constructor(private readonly model: string) {}
    private call(method: string, args: unknown[]): unknown {
      return storeFor(this.model)[method]!(...args);
    }
    async find(id: string): Promise<unknown> {
      if (this.model === 'Client') {
        if (id !== clientId) return undefined;
        return {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: redirectUris,
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
          id_token_signed_response_alg: 'RS256',
        };
      }
      return this.call('find', [id]);
    }
    upsert(...args: unknown[]) {
      return this.call('upsert', args);
    }
    findByUid(...args: unknown[]) {
      return this.call('findByUid', args);
    }
    findByUserCode(...args: unknown[]) {
      return this.call('findByUserCode', args);
    }
    consume(...args: unknown[]) {
      return this.call('consume', args);
    }
    destroy(...args: unknown[]) {
      return this.call('destroy', args);
    }
    revokeByGrantId(...args: unknown[]) {
      return this.call('revokeByGrantId', args);
    }
  }

  let handler: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => {
    response.writeHead(503).end();
  };
  const server: Server = createServer((request, response) => handler(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    adapter: TestIdpAdapter,
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ ...account(sub) }),
    }),
    claims: { openid: ['sub', 'roles'], email: ['email', 'email_verified'], profile: ['name'] },
    scopes: SCOPES,
    conformIdTokenClaims: false,
    jwks: { keys: [privateJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }, code: { scopes: Set<string> }) =>
      client.grantTypeAllowed('refresh_token') && (options.refreshTokens !== 'offline_access' || code.scopes.has('offline_access')),
    // Refresh tokens live their own TTL, not the session's (a closed browser must not end the MCP client's grant).
    expiresWithSession: async () => false,
    ttl: {
      IdToken: () => ttls.idToken,
      AccessToken: () => ttls.accessToken,
      RefreshToken: () => ttls.refreshToken,
      AuthorizationCode: () => ttls.authorizationCode,
      Interaction: 600,
      Session: 3600,
      Grant: 86_400,
    },
    // Plain text instead of the default HTML page: readable in `completeUpstreamLogin` errors, no console notice.
    renderError: async (ctx: { type: string; body: string }, out: { error: string; error_description?: string }) => {
      ctx.type = 'text';
      ctx.body = `${out.error}: ${out.error_description ?? ''}`;
    },
    extraTokenClaims: async (_ctx: unknown, token: { accountId?: string }) =>
      token.accountId === undefined ? undefined : { email: account(token.accountId).email, roles: account(token.accountId).roles },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf ?? accessTokenAudience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => ({
          scope: 'openid email profile',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: ttls.accessToken,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });

  const tokenCalls: TokenCall[] = [];
  provider.use(async (ctx: ProviderContext, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const grantType = ctx.oidc?.params?.grant_type;
      tokenCalls.push({ grantType: typeof grantType === 'string' ? grantType : undefined, status: ctx.status });
    }
  });
  handler = provider.callback();

  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;

  return {
    issuer,
    clientId,
    clientSecret,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    jwksUrl: discovery.jwks_uri!,
    authUrl: discovery.authorization_endpoint!,
    tokenUrl: discovery.token_endpoint!,
    userinfoUrl: discovery.userinfo_endpoint!,
    revocationUrl: discovery.revocation_endpoint!,
    publicJwks: { keys: [publicJwk] },
    tokenCalls,
    setRedirectUris: (uris) => {
      redirectUris = [...uris];
    },
    setTtls: (next) => Object.assign(ttls, next),
    setAccessTokenAudience: (audience) => {
      accessTokenAudience = audience;
    },
    account,
    revokeEverything: () => {
      storage = createMemoryAdapter();
      generation += 1;
    },
    signJwt: async (claims, header = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', ...header })
        .sign(privateKey);
    },
    completeLogin: (authorizeUrl, login, loginOptions) => completeUpstreamLogin(authorizeUrl, login, { idpOrigin: issuer, ...loginOptions }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A minimal cookie jar for `fetch` with manual redirects: per origin, by name (paths ignored; enough here). */
export class CookieJar {
  private readonly cookies = new Map<string, Map<string, string>>();

  store(url: string, response: Response): void {
    const origin = new URL(url).origin;
    const jar = this.cookies.get(origin) ?? new Map<string, string>();
    this.cookies.set(origin, jar);
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const separator = pair.indexOf('=');
      if (separator < 1) continue;
      const name = pair.slice(0, separator).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', value = ''] = attribute.split('=').map((part) => part.trim());
        if (key.toLowerCase() === 'max-age') return Number(value) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(value) <= Date.now();
        return false;
      });
      if (expired) jar.delete(name);
      else jar.set(name, pair.slice(separator + 1).trim());
    }
  }

  header(url: string): string | undefined {
    const jar = this.cookies.get(new URL(url).origin);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export interface UpstreamLoginOptions {
  /** Default: the origin of the first URL on the way that is an interaction page, else of `authorizeUrl`. */
  readonly idpOrigin?: string;
  /** Any password is accepted; default `secret`. */
  readonly password?: string;
  /** `deny` aborts at the consent step (the IdP then redirects back with `error=access_denied`). */
  readonly decision?: 'approve' | 'deny';
  /** Reuse across calls to keep the IdP session (a second login then skips the login prompt). */
  readonly jar?: CookieJar;
  readonly maxSteps?: number;
}

const decodeHtml = (text: string) => text.replace(/&amp;/g, '&').replace(/&#x2F;/gi, '/').replace(/&quot;/g, '"').replace(/&#39;/g, "'");

/**
 * Plays the browser through oidc-provider's dev login and consent pages with plain `fetch` (manual redirects,
 * a cookie jar) and returns the URL the IdP finally redirects to outside its own origin — the gateway's
 * `/oauth/callback?code=…&state=…&iss=…` (or `?error=…`). `authorizeUrl` is the IdP authorization URL (e.g. the
 * `Location` of the gateway's `/oauth/authorize` or consent answer); redirects on other origins before the IdP
 * is reached are followed too. Throws with the page's status and text when a step is neither a redirect nor an
 * interaction form (an IdP error page, say).
 */
export async function completeUpstreamLogin(authorizeUrl: string, login: string, options: UpstreamLoginOptions = {}): Promise<string> {
  const jar = options.jar ?? new CookieJar();
  const idpOrigin = options.idpOrigin ?? new URL(authorizeUrl).origin;
  let url = authorizeUrl;
  let request: { method: 'GET' | 'POST'; body?: URLSearchParams } = { method: 'GET' };
  let reachedIdp = false;
  for (let step = 0; step < (options.maxSteps ?? 20); step += 1) {
    if (new URL(url).origin === idpOrigin) reachedIdp = true;
    else if (reachedIdp) return url;
    const cookie = jar.header(url);
    const response = await fetch(url, {
      method: request.method,
      redirect: 'manual',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(request.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: request.body,
    });
    jar.store(url, response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      request = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    const prompt = /name="prompt" value="(login|consent)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (response.status !== 200 || !prompt || !action) {
      throw new Error(`upstream login stuck at ${url}: HTTP ${response.status}: ${html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
    }
    const submitUrl = new URL(decodeHtml(action), url).href;
    if (prompt === 'login') {
      request = { method: 'POST', body: new URLSearchParams({ prompt: 'login', login, password: options.password ?? 'secret' }) };
      url = submitUrl;
    } else if (options.decision === 'deny') {
      request = { method: 'GET' };
      url = `${submitUrl.replace(/\/$/, '')}/abort`;
    } else {
      request = { method: 'POST', body: new URLSearchParams({ prompt: 'consent' }) };
      url = submitUrl;
    }
  }
  throw new Error(`upstream login did not leave ${idpOrigin} within ${options.maxSteps ?? 20} steps (last ${url})`);
}

/**
 * Selectors of oidc-provider's dev interaction pages, for browser tests: the login page has
 * `input[name="login"]`, `input[name="password"]` and a submit button; the consent page has a form with
 * `input[name="prompt"][value="consent"]` and `button[type="submit"]` ("Continue"), and an abort link `a[href$="/abort"]`.
 */
export const IDP_SELECTORS = {
  loginForm: 'form:has(input[name="prompt"][value="login"])',
  loginInput: 'input[name="login"]',
  passwordInput: 'input[name="password"]',
  consentForm: 'form:has(input[name="prompt"][value="consent"])',
  submitButton: 'button[type="submit"]',
  abortLink: 'a[href$="/abort"]',
} as const;

/**
 * The browser variant of `completeUpstreamLogin`: with `page` on (or navigating to) the IdP, fills the login
 * form and approves consent until the page leaves `idpOrigin`; returns the URL it left to (make that URL
 * answerable first, e.g. with `interceptRequests` of test/support/browser.ts for a client redirect URI).
 */
export async function completeUpstreamLoginInPage(page: Page, idpOrigin: string, login: string, options: { password?: string; maxSteps?: number } = {}): Promise<string> {
  for (let step = 0; step < (options.maxSteps ?? 6); step += 1) {
    await page.waitForLoadState('load');
    if (page.url().startsWith('chrome-error:')) {
      // A redirect to a request-intercepted URL can first surface as a DNS error page, then commit the
      // intercepted answer: give it a moment before calling it a failure.
      await page.waitForURL((next) => next.protocol !== 'chrome-error:', { timeout: 5_000 }).catch(() => undefined);
      if (page.url().startsWith('chrome-error:')) throw new Error('the browser landed on an error page after the IdP (is the redirect target answerable?)');
    }
    if (new URL(page.url()).origin !== idpOrigin) return page.url();
    const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
    if ((await page.locator(IDP_SELECTORS.loginForm).count()) > 0) {
      await page.fill(IDP_SELECTORS.loginInput, login);
      await page.fill(IDP_SELECTORS.passwordInput, options.password ?? 'secret');
      await page.locator(IDP_SELECTORS.loginForm).locator(IDP_SELECTORS.submitButton).click();
    } else if ((await page.locator(IDP_SELECTORS.consentForm).count()) > 0) {
      await page.locator(IDP_SELECTORS.consentForm).locator(IDP_SELECTORS.submitButton).click();
    } else {
      navigated.catch(() => undefined);
      throw new Error(`IdP page ${page.url()} shows neither login nor consent: ${(await page.locator('body').innerText()).slice(0, 300)}`);
    }
    await navigated;
  }
  throw new Error(`browser login did not leave ${idpOrigin} (last ${page.url()})`);
}
