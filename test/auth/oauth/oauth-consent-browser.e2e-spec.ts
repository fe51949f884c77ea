import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interceptRequests, launchBrowser, screenshot, type TestBrowser } from '../../support/browser.js';
import { startCimdClient, type CimdClientServer } from '../../support/cimd-client.js';
import { writeBrokerConfig } from '../../support/broker-config.js';
import { startGateway, TEST_CLICKHOUSE_FLAGS, type TestGateway } from '../../support/gateway.js';
import { completeUpstreamLoginInPage, startTestIdp, type TestIdp } from '../../support/oidc-idp.js';

/**
 * The broker's consent page in a real browser (Debian chromium driven by playwright-core), in front of a real
 * OIDC provider (oidc-provider): it renders what the user approves, the approve button completes the whole
 * authorization (gateway → IdP login → gateway callback → the MCP client's redirect URI with a code that redeems),
 * a forged CSRF token is refused, and another site cannot frame the page.
 */

const SIGNING_SECRET = 'browser-consent-signing-secret-32-bytes!';
const CLIENT_NAME = 'Browser Test Client';

let browser: TestBrowser;
let idp: TestIdp;
let client: CimdClientServer;
let gateway: TestGateway;

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(challenge: string, state: string): string {
  const query = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    scope: 'openid email',
  });
  return `${gateway.url}oauth/authorize?${query}`;
}

beforeAll(async () => {
  [browser, idp, client] = await Promise.all([
    launchBrowser(),
    startTestIdp({ clientId: 'consent-browser-gw', clientSecret: 'consent-browser-upstream-secret' }),
    startCimdClient({ hostname: 'consent-browser-client.test', clientName: CLIENT_NAME }),
  ]);
  const file = writeBrokerConfig(idp, SIGNING_SECRET, { consent: true });
  gateway = await startGateway(['--config', file, ...TEST_CLICKHOUSE_FLAGS], {}, client.hooks);
  idp.setRedirectUris([`${gateway.url}oauth/callback`]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await client?.close();
  await idp?.close();
});

describe('consent page in headless chromium', () => {
  it('renders client, redirect host and scopes; approve completes the flow through the real IdP; the code redeems', async () => {
    const { page, context } = await browser.newPage();
    const callbacks = await interceptRequests(context, client.redirectUri);
    const { verifier, challenge } = pkce();
    const response = await page.goto(authorizeUrl(challenge, 'browser-state-1'));
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await expect(page.locator('body').innerText()).resolves.toContain(CLIENT_NAME);
    await expect(page.locator('body').innerText()).resolves.toContain('consent-browser-client.test');
    await expect(page.locator('body').innerText()).resolves.toContain('email');
    const shot = await screenshot(page, 'oauth-consent-page');
    expect(existsSync(shot) && statSync(shot).size).toBeGreaterThan(2000);
    expect(idp.tokenCalls).toHaveLength(0);

    const toIdp = page.waitForURL((url) => url.origin === idp.issuer);
    await page.click('#approve');
    await toIdp;
    const left = await completeUpstreamLoginInPage(page, idp.issuer, 'carol');
    const redirect = new URL(await callbacks.next());
    expect(left).toBe(redirect.href);
    expect(redirect.origin + redirect.pathname).toBe(client.redirectUri);
    expect(redirect.searchParams.get('state')).toBe('browser-state-1');
    expect(redirect.searchParams.get('iss')).toBe(gateway.url.replace(/\/$/, ''));
    const code = redirect.searchParams.get('code');
    expect(code).toBeTruthy();

    const token = await fetch(`${gateway.url}oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, code_verifier: verifier, client_id: client.clientId, redirect_uri: client.redirectUri }),
    });
    expect(token.status).toBe(200);
    expect(token.headers.get('cache-control')).toBe('no-store');
    const body = (await token.json()) as { access_token: string; token_type: string; refresh_token?: string };
    expect(body.token_type).toBe('Bearer');
    expect(body.access_token.split('.')).toHaveLength(5); // a bound token (JWE), not the raw upstream one
    expect(idp.tokenCalls.map((call) => call.grantType)).toEqual(['authorization_code']);

    // The approval is remembered for this browser and client: the next authorization skips the page (and the
    // IdP session skips its login), straight back to the client. Chromium may first report the intercepted
    // redirect as a DNS error, hence the tolerant goto.
    await page.goto(authorizeUrl(pkce().challenge, 'browser-state-2')).catch(() => null);
    const second = new URL(await callbacks.next());
    expect(second.searchParams.get('state')).toBe('browser-state-2');
    expect(second.searchParams.get('code')).toBeTruthy();
    await context.close();
  }, 60_000);

  it('refuses a forged CSRF token with a 403 page; nothing goes upstream', async () => {
    const { page, context } = await browser.newPage();
    const calls = idp.tokenCalls.length;
    await page.goto(authorizeUrl(pkce().challenge, 'browser-state-forged'));
    await page.evaluate(() => {
      const field = document.querySelector<HTMLInputElement>('input[name="csrf"]');
      if (!field) throw new Error('no csrf field');
      field.value = `${field.value.slice(0, -4)}AAAA`;
    });
    const answer = page.waitForResponse((response) => response.request().method() === 'POST');
    await page.click('#approve');
    const response = await answer;
    expect(response.status()).toBe(403);
    expect(new URL(page.url()).origin).toBe(new URL(gateway.url).origin);
    await expect(page.locator('body').innerText()).resolves.toMatch(/expired|refused|invalid|forged|again/i);
    await screenshot(page, 'oauth-consent-forged-csrf');
    expect(idp.tokenCalls.length).toBe(calls);
    await context.close();
  }, 30_000);

  it('cannot be framed by another site', async () => {
    let site: Server | undefined;
    const { page, context } = await browser.newPage();
    try {
      const target = authorizeUrl(pkce().challenge, 'browser-state-framed');
      site = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(`<!doctype html><title>evil</title><iframe id="victim" src="${target.replace(/&/g, '&amp;')}" width="600" height="400"></iframe>`);
      });
      await new Promise<void>((resolve) => site!.listen(0, '127.0.0.1', resolve));
      const sitePort = (site.address() as AddressInfo).port;
      const framed = page.waitForResponse((response) => response.url().startsWith(`${gateway.url}oauth/authorize`));
      // `localhost` is another origin than the gateway's 127.0.0.1.
      await page.goto(`http://localhost:${sitePort}/`);
      const response = await framed;
      expect(response.status()).toBe(200);
      expect(response.headers()['x-frame-options']).toBe('DENY');
      await page.waitForTimeout(500);
      const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
      expect(frame).toBeDefined();
      // Chromium replaces a frame refused by frame-ancestors with an error document: no consent form inside.
      const approveButtons = await frame!.locator('#approve').count().catch(() => 0);
      expect(approveButtons).toBe(0);
      await screenshot(page, 'oauth-consent-framed');
    } finally {
      await context.close();
      await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
    }
  }, 30_000);
});
