import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../../support/gateway.js';
import {
  CLIENT_ID,
  CLIENT_REDIRECT,
  SIGNING_SECRET,
  UPSTREAM_CLIENT_SECRET,
  authorizeUrl,
  defaultAuthorizeParams,
  pkcePair,
  postForm,
  startBrokerGateway,
  startClientDocuments,
  startFakeIdp,
  type ClientDocuments,
  type FakeIdp,
} from './broker-helpers.js';

/** The consent page over HTTP, and malformed input across every broker endpoint. */

let idp: FakeIdp;
let documents: ClientDocuments;
let gateway: TestGateway;
const ORIGIN = 'https://mcp.example.com';

beforeAll(async () => {
  idp = await startFakeIdp();
  documents = await startClientDocuments();
  gateway = await startBrokerGateway({ idp, documents, oauth: { consent: true } });
});

afterAll(async () => {
  await gateway?.close();
  await documents?.close();
  await idp?.close();
});

const cookieValue = (setCookie: string[], name: string) => setCookie.find((c) => c.startsWith(`${name}=`))?.split(';')[0]!.slice(name.length + 1);
const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));

async function consentPage(cookie = '') {
  const { challenge } = pkcePair();
  const response = await fetch(authorizeUrl(gateway, defaultAuthorizeParams(challenge, { scope: 'openid email <img>' })), { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { response, html: response.status === 200 ? await response.text() : '' };
}

function submit(form: Record<string, string>, cookie: string, headers: Record<string, string> = { origin: ORIGIN, 'sec-fetch-site': 'same-origin' }) {
  return postForm(`${gateway.url}oauth/consent`, form, { cookie, ...headers });
}

describe('consent page (consent: true)', () => {
  it('renders escaped client name, redirect host and scopes, with anti-framing and no-store headers and a CSRF cookie', async () => {
    const { response, html } = await consentPage();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(html).not.toContain('<b>');
    expect(html).toContain('Demo &#60;b&#62;Client&#60;&#47;b&#62; &#38; &#34;friends&#34;');
    expect(html).toContain('<strong id="redirect-host">client.example</strong>');
    expect(html).toContain('<code>&#60;img&#62;</code>');
    expect(html).not.toContain('<img>');
    const cookies = response.headers.getSetCookie();
    expect(cookies[0]).toMatch(/^__Host-mcp_consent_csrf=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/);
    expect(idp.tokenCalls).toHaveLength(0);
  });

  it('a forged, missing or foreign CSRF token, or a cross-site post → 403 page; nothing goes upstream', async () => {
    const { response, html } = await consentPage();
    const nonce = cookieValue(response.headers.getSetCookie(), '__Host-mcp_consent_csrf')!;
    const cookie = `__Host-mcp_consent_csrf=${nonce}`;
    const request = field(html, 'request');
    const csrf = field(html, 'csrf');
    const other = await consentPage();
    const attempts = [
      submit({ request, csrf: 'forged', decision: 'approve' }, cookie),
      submit({ request, decision: 'approve' }, cookie),
      submit({ request, csrf, decision: 'approve' }, ''),
      submit({ request, csrf, decision: 'approve' }, `__Host-mcp_consent_csrf=${'A'.repeat(43)}`),
      submit({ request: field(other.html, 'request'), csrf, decision: 'approve' }, cookie),
      submit({ request, csrf, decision: 'approve' }, cookie, { origin: 'https://evil.example' }),
      submit({ request, csrf, decision: 'approve' }, cookie, { 'sec-fetch-site': 'cross-site' }),
    ];
    for (const attempt of await Promise.all(attempts)) {
      expect(attempt.status).toBe(403);
      expect(attempt.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(attempt.headers.get('location')).toBeNull();
      expect(await attempt.text()).toContain('Request refused');
    }
  });

  it('approve → 302 upstream with a state, remembered: the next authorize skips the page; deny → access_denied to the client', async () => {
    const { response, html } = await consentPage();
    const nonce = cookieValue(response.headers.getSetCookie(), '__Host-mcp_consent_csrf')!;
    const approved = await submit({ request: field(html, 'request'), csrf: field(html, 'csrf'), decision: 'approve' }, `__Host-mcp_consent_csrf=${nonce}`);
    expect(approved.status).toBe(302);
    const upstream = new URL(approved.headers.get('location')!);
    expect(upstream.origin).toBe(idp.url);
    expect(upstream.searchParams.get('state')!.split('.')).toHaveLength(5);
    const memory = cookieValue(approved.headers.getSetCookie(), '__Host-mcp_consent')!;
    expect(memory.split('.')).toHaveLength(5);
    expect(approved.headers.getSetCookie().join('\n')).toMatch(/__Host-mcp_consent=[^;]+; Path=\/; Max-Age=259\d{4}; HttpOnly; SameSite=Lax; Secure/);

    const again = await consentPage(`__Host-mcp_consent=${memory}`);
    expect(again.response.status).toBe(302);
    expect(new URL(again.response.headers.get('location')!).origin).toBe(idp.url);

    const forgedMemory = await consentPage(`__Host-mcp_consent=${memory.slice(0, -2)}xx`);
    expect(forgedMemory.response.status).toBe(200);

    const fresh = await consentPage();
    const freshNonce = cookieValue(fresh.response.headers.getSetCookie(), '__Host-mcp_consent_csrf')!;
    const denied = await submit({ request: field(fresh.html, 'request'), csrf: field(fresh.html, 'csrf'), decision: 'deny' }, `__Host-mcp_consent_csrf=${freshNonce}`);
    expect(denied.status).toBe(302);
    const back = new URL(denied.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(CLIENT_REDIRECT);
    expect(Object.fromEntries(back.searchParams)).toEqual({ error: 'access_denied', iss: ORIGIN, state: 'client-state' });
  });
});

describe('the approval is bound to the browser that gave it', () => {
  it('an upstream URL approved in one browser and finished in another (silent SSO) is refused at the callback', async () => {
    // The attacker approves their own request, then lures a victim (signed in at the IdP) to the upstream URL.
    const { response, html } = await consentPage();
    const nonce = cookieValue(response.headers.getSetCookie(), '__Host-mcp_consent_csrf')!;
    const approved = await submit({ request: field(html, 'request'), csrf: field(html, 'csrf'), decision: 'approve' }, `__Host-mcp_consent_csrf=${nonce}`);
    expect(approved.status).toBe(302);
    const state = new URL(approved.headers.get('location')!).searchParams.get('state')!;
    const attackerBinding = cookieValue(approved.headers.getSetCookie(), '__Host-mcp_oauth_state')!;
    expect(approved.headers.getSetCookie().join('\n')).toMatch(/__Host-mcp_oauth_state=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure/);
    const callbackUrl = `${gateway.url}oauth/callback?${new URLSearchParams({ state, code: 'victims-upstream-code' })}`;
    const calls = idp.tokenCalls.length;

    // The victim's browser has no binding, or its own for another request: refused, nothing issued or redirected.
    const victimOwn = await consentPage();
    const victimNonce = cookieValue(victimOwn.response.headers.getSetCookie(), '__Host-mcp_consent_csrf')!;
    const victimApproved = await submit({ request: field(victimOwn.html, 'request'), csrf: field(victimOwn.html, 'csrf'), decision: 'approve' }, `__Host-mcp_consent_csrf=${victimNonce}`);
    const victimBinding = cookieValue(victimApproved.headers.getSetCookie(), '__Host-mcp_oauth_state')!;
    for (const cookie of ['', `__Host-mcp_oauth_state=${victimBinding}`, `__Host-mcp_oauth_state=${'A'.repeat(43)}`]) {
      const refused = await fetch(callbackUrl, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ error: 'invalid_request', error_description: 'authorization request was not approved in this browser' });
    }
    // An upstream error for that state from another browser is refused the same way (no redirect to the client).
    const errorFromElsewhere = await fetch(`${gateway.url}oauth/callback?${new URLSearchParams({ state, error: 'access_denied' })}`, { redirect: 'manual' });
    expect(errorFromElsewhere.status).toBe(400);

    // The approving browser completes; its binding is then used up.
    const ok = await fetch(callbackUrl, { redirect: 'manual', headers: { cookie: `__Host-mcp_oauth_state=${attackerBinding}` } });
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    expect(ok.headers.getSetCookie().join('\n')).toMatch(/__Host-mcp_oauth_state=; Path=\/; Max-Age=0/);
    expect(idp.tokenCalls.length).toBe(calls);
  });
});

describe('malformed input never gives a 500, a stack or a leaked secret', () => {
  it('70+ malformed requests across authorize, consent, callback and token → 4xx JSON (or the consent error page)', async () => {
    const { challenge } = pkcePair();
    const base = defaultAuthorizeParams(challenge);
    const longText = 'x'.repeat(70_000);
    // Under Node's 16 KiB header limit (beyond it Node itself answers 431 before any route runs).
    const longQuery = 'x'.repeat(12_000);
    const authorize: Array<Record<string, string>> = [
      {}, { client_id: '' }, { ...base, client_id: 'javascript:alert(1)' }, { ...base, client_id: 'https://client.example/../x' },
      { ...base, client_id: 'https://client.example/%2e%2e/x' }, { ...base, client_id: 'https://127.0.0.1/x.json' },
      { ...base, client_id: 'https://10.0.0.1/x.json' }, { ...base, client_id: `https://client.example/${'a'.repeat(3000)}` },
      { ...base, client_id: 'https://client.example/x\u0000' }, { ...base, redirect_uri: 'javascript:alert(1)' },
      { ...base, redirect_uri: `${CLIENT_REDIRECT}/` }, { ...base, redirect_uri: CLIENT_REDIRECT.toUpperCase() },
      { ...base, response_type: 'code token' }, { ...base, code_challenge_method: 's256' }, { ...base, code_challenge: 'x'.repeat(5000) },
      { ...base, state: 'x'.repeat(10_000) }, { ...base, scope: 'x'.repeat(10_000) }, { ...base, resource: 'not a url' },
      { ...base, resource: 'https://mcp.example.com/other' }, { ...base, resource: 'https://mcp.example.com\r\nX: y' },
    ];
    const responses: Response[] = [];
    for (const params of authorize) responses.push(await fetch(authorizeUrl(gateway, params), { redirect: 'manual' }));
    for (const raw of ['%', '%%%', 'client_id=%E0%A4%A', '&&&=&=', 'client_id[]=a&client_id[]=b', `client_id=${encodeURIComponent(CLIENT_ID)}&client_id=https://evil.example/x`]) {
      responses.push(await fetch(`${gateway.url}oauth/authorize?${raw}`, { redirect: 'manual' }));
    }
    for (const method of ['PUT', 'DELETE', 'PATCH']) responses.push(await fetch(`${gateway.url}oauth/authorize`, { method }));

    for (const query of ['state=', 'code=x', 'state=a.b.c.d.e&code=x', `state=${longQuery}&code=x`, 'state=%zz&code=1', 'error=access_denied', 'state=x&error=access_denied', `code=${longQuery}&state=y`, 'state[]=1&code[]=2']) {
      responses.push(await fetch(`${gateway.url}oauth/callback?${query}`, { redirect: 'manual' }));
    }

    const token = `${gateway.url}oauth/token`;
    const tokenBodies: Array<[string, string]> = [
      ['application/x-www-form-urlencoded', ''], ['application/x-www-form-urlencoded', 'grant_type=authorization_code'],
      ['application/x-www-form-urlencoded', 'grant_type=authorization_code&client_id=x'], ['application/x-www-form-urlencoded', '%%%'],
      ['application/x-www-form-urlencoded', `grant_type=authorization_code&code=${longText}`], ['application/x-www-form-urlencoded', 'a'.repeat(70_000)],
      ['application/json', '{"grant_type":"authorization_code"}'], ['text/plain', 'grant_type=authorization_code'],
      ['application/x-www-form-urlencoded', `grant_type=authorization_code&client_id=${encodeURIComponent(CLIENT_ID)}&redirect_uri=x`],
      ['application/x-www-form-urlencoded', `grant_type=authorization_code&client_id=${encodeURIComponent(CLIENT_ID)}&redirect_uri=${encodeURIComponent(CLIENT_REDIRECT)}&code=a.b.c.d.e`],
      ['application/x-www-form-urlencoded', `grant_type=authorization_code&client_id=${encodeURIComponent(CLIENT_ID)}&client_assertion_type=x`],
      ['application/x-www-form-urlencoded', 'grant_type=refresh_token'], ['application/x-www-form-urlencoded', `grant_type=refresh_token&client_id=${encodeURIComponent(CLIENT_ID)}&refresh_token=x`],
      ['application/x-www-form-urlencoded', 'grant_type=client_credentials'], ['application/x-www-form-urlencoded', 'grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer'],
      ['application/x-www-form-urlencoded', 'grant_type=%00'], ['application/x-www-form-urlencoded', `grant_type=authorization_code&client_id=https://client.example/oauth/pkjwt.json`],
      ['application/x-www-form-urlencoded', `grant_type=authorization_code&client_id=https://client.example/oauth/pkjwt.json&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c`],
      ['application/x-www-form-urlencoded', '\u00ff\u00fe'], ['multipart/form-data; boundary=x', '--x\r\n\r\n--x--'],
    ];
    for (const [type, body] of tokenBodies) responses.push(await fetch(token, { method: 'POST', headers: { 'content-type': type }, body }));
    responses.push(await fetch(token, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from([0xc3, 0x28]) }));
    for (const method of ['GET', 'PUT', 'DELETE']) responses.push(await fetch(token, { method }));

    const consent = `${gateway.url}oauth/consent`;
    const consentBodies = ['', 'decision=approve', 'request=x&decision=approve&csrf=y', 'decision=maybe&request=x', `request=${longText}`, '%%%', 'a'.repeat(70_000)];
    for (const body of consentBodies) {
      responses.push(await fetch(consent, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }, body }));
    }
    responses.push(await fetch(consent));
    responses.push(await fetch(consent, { method: 'POST', headers: { origin: 'null' } }));

    expect(responses.length).toBeGreaterThanOrEqual(70);
    for (const response of responses) {
      const text = await response.text();
      expect(response.status, text).toBeGreaterThanOrEqual(400);
      expect(response.status, text).toBeLessThan(500);
      expect(text).not.toMatch(/\bat .*\.(ts|js):\d+|Error:|stack/i);
      if (response.url.includes('/oauth/consent')) {
        expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      } else {
        expect(response.headers.get('content-type'), `${response.status} ${response.url.slice(0, 120)} ${text.slice(0, 100)}`).toBe('application/json');
        const body = JSON.parse(text) as { error: string; error_description: string };
        expect(typeof body.error).toBe('string');
        expect(typeof body.error_description).toBe('string');
      }
    }
    const logs = gateway.logs.join('\n');
    for (const secret of [SIGNING_SECRET, UPSTREAM_CLIENT_SECRET, 'a.b.c.d.e', longText.slice(0, 100)]) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/"level":"error"/);
    void CLIENT_ID;
  });
});
