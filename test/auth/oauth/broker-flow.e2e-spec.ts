import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../../support/gateway.js';
import {
  CLIENT_ID,
  CLIENT_REDIRECT,
  SIGNING_SECRET,
  UPSTREAM_CLIENT_ID,
  UPSTREAM_CLIENT_SECRET,
  obtainCode,
  redeem,
  startBrokerGateway,
  startClientDocuments,
  startFakeIdp,
  type ClientDocuments,
  type FakeIdp,
} from './broker-helpers.js';

let idp: FakeIdp;
let documents: ClientDocuments;
let upstreamMode: TestGateway;

beforeAll(async () => {
  idp = await startFakeIdp();
  documents = await startClientDocuments();
  upstreamMode = await startBrokerGateway({ idp, documents, oauth: { issued_tokens: 'upstream' } });
});

afterAll(async () => {
  await upstreamMode?.close();
  await documents?.close();
  await idp?.close();
});

describe('broker full flow, Go answers (issued_tokens: upstream; vector 36)', () => {
  afterAll(() => { for (const l of upstreamMode.logs) if (l.includes('rror')) console.log(l.slice(0, 3000)); });
  it('authorize → upstream redirect; callback → client redirect with code, state and iss; token → upstream access token', async () => {
    idp.script = () => ({ body: { access_token: 'upstream-access-token', token_type: 'Bearer', expires_in: 3600 } });
    const before = idp.tokenCalls.length;
    const { code, verifier, location } = await obtainCode(upstreamMode);
    expect(location.origin + location.pathname).toBe(CLIENT_REDIRECT);
    expect(location.searchParams.get('state')).toBe('client-state');
    expect(location.searchParams.get('iss')).toBe('https://mcp.example.com');
    expect(code).not.toBe('');
    expect(idp.tokenCalls.length).toBe(before);

    const response = await redeem(upstreamMode, code, verifier);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ access_token: 'upstream-access-token', token_type: 'Bearer', expires_in: 3600 });
    expect(body.refresh_token).toBeUndefined();
    expect(idp.tokenCalls.length).toBe(before + 1);
    const form = idp.tokenCalls.at(-1)!.form;
    expect(form.get('grant_type')).toBe('authorization_code');
    expect(form.get('code')).toBe('upstream-code');
    expect(form.get('client_id')).toBe(UPSTREAM_CLIENT_ID);
    expect(form.get('client_secret')).toBe(UPSTREAM_CLIENT_SECRET);
    expect(form.get('redirect_uri')).toBe('https://mcp.example.com/oauth/callback');
    expect(form.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(idp.userinfoCalls).toBeGreaterThan(0);
    void CLIENT_ID;
    void SIGNING_SECRET;
  });
});
