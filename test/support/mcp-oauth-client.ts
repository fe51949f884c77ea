import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider, type OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * Test support: the MCP SDK's OAuth client side as a real MCP client runs it, with everything kept in memory.
 * The client identifies itself with a CIMD URL (`clientMetadataUrl`, SEP-991): the SDK's `auth()` uses it as
 * `client_id` when the AS metadata says `client_id_metadata_document_supported: true`, and otherwise falls back
 * to dynamic registration — which the gateway answers with 410, so a broken metadata document shows up as that.
 *
 * Flow (SDK 1.32 `auth()`): 401 + `WWW-Authenticate: Bearer resource_metadata=…` → PRM (RFC 9728) → AS metadata
 * → client_id = CIMD URL → PKCE S256 + `state` + `resource` → `redirectToAuthorization(url)` (here: handed to
 * `onRedirect`) → the test follows it (gateway consent → upstream login → gateway callback → redirect to
 * `redirectUrl?code=…&state=…`) → `transport.finishAuth(code)` → token. Later 401s with a refresh token stored
 * refresh first (`refresh_token` grant) and only start a new authorization if that fails.
 */
export interface HarnessOAuthClientOptions {
  /** The CIMD URL (OAuth client_id), e.g. `CimdClientServer.clientId`. */
  readonly clientMetadataUrl: string;
  /** Must be one of the document's `redirect_uris`, e.g. `CimdClientServer.redirectUri`. */
  readonly redirectUrl: string;
  readonly clientName?: string;
  /** Fallback scope (the SDK prefers the challenge's, then PRM `scopes_supported`). */
  readonly scope?: string;
  /** Receives every authorization URL the SDK wants the user agent to open (default: only recorded). */
  readonly onRedirect?: (authorizationUrl: URL) => void | Promise<void>;
}

export class HarnessOAuthClientProvider implements OAuthClientProvider {
  readonly clientMetadataUrl: string;
  /** Every authorization URL handed out, oldest first. */
  readonly authorizationUrls: URL[] = [];
  /** Every token set saved (initial grant and each refresh), oldest first. */
  readonly tokenHistory: OAuthTokens[] = [];
  /** Every `invalidateCredentials` scope the SDK asked for. */
  readonly invalidations: string[] = [];
  private storedTokens: OAuthTokens | undefined;
  private storedClient: OAuthClientInformationMixed | undefined;
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  private currentState: string | undefined;

  constructor(private readonly options: HarnessOAuthClientOptions) {
    this.clientMetadataUrl = options.clientMetadataUrl;
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName ?? 'Harness MCP Client',
      redirect_uris: [this.options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.options.scope ? { scope: this.options.scope } : {}),
    };
  }

  /** A fresh random `state` per authorization; `codeFromRedirect` checks it. */
  state(): string {
    this.currentState = randomBytes(16).toString('base64url');
    return this.currentState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.storedClient;
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.storedClient = information;
  }

  tokens(): OAuthTokens | undefined {
    return this.storedTokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.storedTokens = tokens;
    this.tokenHistory.push(tokens);
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizationUrls.push(authorizationUrl);
    await this.options.onRedirect?.(authorizationUrl);
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new Error('no PKCE code verifier saved');
    return this.verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    this.invalidations.push(scope);
    if (scope === 'all' || scope === 'tokens') this.storedTokens = undefined;
    if (scope === 'all' || scope === 'client') this.storedClient = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  /** The newest authorization URL (throws if the SDK never asked for one). */
  lastAuthorizationUrl(): URL {
    const url = this.authorizationUrls.at(-1);
    if (!url) throw new Error('the SDK has not asked to open an authorization URL');
    return url;
  }

  /**
   * The `code` of the client redirect (`<redirectUrl>?code=…&state=…`): checks it is our redirect URI and the
   * `state` we sent; an `error` redirect throws with its `error`/`error_description`.
   */
  codeFromRedirect(redirect: string): string {
    const url = new URL(redirect);
    if (`${url.origin}${url.pathname}` !== this.options.redirectUrl) throw new Error(`redirect went to ${url.origin}${url.pathname}, not ${this.options.redirectUrl}`);
    const error = url.searchParams.get('error');
    if (error) throw new Error(`authorization failed: ${error}: ${url.searchParams.get('error_description') ?? ''}`);
    if (url.searchParams.get('state') !== this.currentState) throw new Error('state in the redirect does not match the one sent');
    const code = url.searchParams.get('code');
    if (!code) throw new Error('redirect carries no code');
    return code;
  }

  /** Replaces the stored access token with a junk one (keeps the refresh token), to force a 401 → refresh. */
  spoilAccessToken(): void {
    if (!this.storedTokens) throw new Error('no tokens stored');
    this.storedTokens = { ...this.storedTokens, access_token: 'spoiled-access-token' };
  }
}

export interface OAuthConnectedClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  close(): Promise<void>;
}

/**
 * Connects an MCP SDK `Client` to `mcpUrl` with `provider`. If the server wants authorization, `authorize`
 * is called with the authorization URL and must return the final client redirect URL (carrying `code` and
 * `state`); the code is exchanged (`finishAuth`) and the client reconnects on a fresh transport, as a real
 * client does after its browser round trip. `options.fetch` replaces the SDK's `fetch` for every MCP, discovery
 * and token request (e.g. to record what the SDK sent and got).
 */
export async function connectWithOAuth(
  mcpUrl: URL,
  provider: HarnessOAuthClientProvider,
  authorize: (authorizationUrl: URL) => Promise<string>,
  options: { fetch?: FetchLike } = {},
): Promise<OAuthConnectedClient> {
  const transportOptions = { authProvider: provider, ...(options.fetch ? { fetch: options.fetch } : {}) };
  const open = async () => {
    const transport = new StreamableHTTPClientTransport(mcpUrl, transportOptions);
    const client = new Client({ name: 'gateway-oauth-e2e', version: '1.0.0' });
    await client.connect(transport);
    return { client, transport, close: () => client.close() };
  };
  const before = provider.authorizationUrls.length;
  try {
    return await open();
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || provider.authorizationUrls.length === before) throw error;
  }
  const redirect = await authorize(provider.lastAuthorizationUrl());
  const code = provider.codeFromRedirect(redirect);
  const exchange = new StreamableHTTPClientTransport(mcpUrl, transportOptions);
  await exchange.finishAuth(code);
  await exchange.close();
  return open();
}
