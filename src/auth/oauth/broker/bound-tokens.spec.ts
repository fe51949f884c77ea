import { describe, expect, it } from 'vitest';
import { deriveArtifactKey } from '../artifacts/artifact-keys.js';
import { encodeOAuthArtifact } from '../artifacts/oauth-artifact.js';
import { mintBoundAccessToken, mintBoundRefreshToken, openBoundRefreshToken, verifyBoundAccessToken } from './bound-tokens.js';
import { GATEWAY_LABELS, openGatewayArtifact, sealGatewayArtifact } from './gateway-artifacts.js';

const SECRET = 'bound-token-spec-secret-of-32-bytes!!';
const NOW = 1_800_000_000;
const RESOURCE = 'https://mcp.example.com/';
const upstreamJwt = `e30.${Buffer.from(JSON.stringify({ sub: 'alice', email: 'alice@example.com', roles: ['r'] })).toString('base64url')}.sig`;
const input = { audience: RESOURCE, issuer: 'https://mcp.example.com', subject: 'alice', clientId: 'https://c.example/x', scope: 'openid email', upstreamToken: upstreamJwt };

describe('bound access tokens', () => {
  it('round trip: the wrapped upstream token, its claims, scopes and subject', async () => {
    const { token, expiresAt } = await mintBoundAccessToken({ ...input, upstreamExpiresAt: NOW + 600 }, SECRET, 0, NOW);
    expect(expiresAt).toBe(NOW + 600);
    const verdict = await verifyBoundAccessToken(token, RESOURCE, SECRET, NOW);
    expect(verdict).toEqual({
      ok: true,
      kind: 'bound',
      clickhouseToken: upstreamJwt,
      claims: { sub: 'alice', email: 'alice@example.com', roles: ['r'] },
      scopes: ['openid', 'email'],
      subject: 'alice',
      expiresAt: NOW + 600,
    });
    expect(token).not.toContain(upstreamJwt.split('.')[1]);
  });

  it('exp = min(upstream exp, now + ttl); ttl 0 means 3600', async () => {
    expect((await mintBoundAccessToken({ ...input, upstreamExpiresAt: NOW + 7200 }, SECRET, 0, NOW)).expiresAt).toBe(NOW + 3600);
    expect((await mintBoundAccessToken({ ...input, upstreamExpiresAt: NOW + 7200 }, SECRET, 300, NOW)).expiresAt).toBe(NOW + 300);
    expect((await mintBoundAccessToken(input, SECRET, 0, NOW)).expiresAt).toBe(NOW + 3600);
  });

  it('audience: the trailing-slash variant passes, another resource does not', async () => {
    const { token } = await mintBoundAccessToken(input, SECRET, 0, NOW);
    expect((await verifyBoundAccessToken(token, 'https://mcp.example.com', SECRET, NOW)).ok).toBe(true);
    expect(await verifyBoundAccessToken(token, 'https://other.example.com/', SECRET, NOW)).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(await verifyBoundAccessToken(token, 'https://mcp.example.com/mcp/', SECRET, NOW)).toEqual({ ok: false, reason: 'wrong_audience' });
  });

  it('expires exactly at exp, without leeway (the exp may be the wrapped upstream token\'s own)', async () => {
    const { token } = await mintBoundAccessToken(input, SECRET, 100, NOW);
    expect((await verifyBoundAccessToken(token, RESOURCE, SECRET, NOW + 99)).ok).toBe(true);
    expect(await verifyBoundAccessToken(token, RESOURCE, SECRET, NOW + 100)).toEqual({ ok: false, reason: 'expired' });
    // Capped by the upstream token: refused from the second the upstream token is, so ClickHouse never gets it expired.
    const capped = await mintBoundAccessToken({ ...input, upstreamExpiresAt: NOW + 30 }, SECRET, 100, NOW);
    expect(capped.expiresAt).toBe(NOW + 30);
    expect((await verifyBoundAccessToken(capped.token, RESOURCE, SECRET, NOW + 29)).ok).toBe(true);
    expect(await verifyBoundAccessToken(capped.token, RESOURCE, SECRET, NOW + 30)).toEqual({ ok: false, reason: 'expired' });
  });

  it('never throws; refuses other secrets, other purposes, tampering, junk and Go artifacts', async () => {
    const { token } = await mintBoundAccessToken(input, SECRET, 0, NOW);
    const refresh = await mintBoundRefreshToken({ upstreamRefreshToken: 'r', clientId: 'c', resource: '', scope: '' }, SECRET, 0, NOW);
    const goArtifact = await encodeOAuthArtifact({ aud: RESOURCE, exp: NOW + 60 }, SECRET, GATEWAY_LABELS.accessToken);
    const parts = token.split('.');
    const tampered = [parts[0], parts[1], parts[2], `${parts[3]!.startsWith('A') ? 'B' : 'A'}${parts[3]!.slice(1)}`, parts[4]].join('.');
    for (const bad of [refresh, goArtifact, tampered, '', 'x', 'a.b.c.d.e', 'A'.repeat(40_000), `${token}.x`]) {
      expect((await verifyBoundAccessToken(bad, RESOURCE, SECRET, NOW)).ok).toBe(false);
    }
    expect((await verifyBoundAccessToken(token, RESOURCE, 'another-secret-of-at-least-32-bytes!!', NOW)).ok).toBe(false);
    expect((await verifyBoundAccessToken(token, RESOURCE, '', NOW)).ok).toBe(false);
  });

  it('an artifact without exp never opens', async () => {
    const token = await sealGatewayArtifact({ aud: RESOURCE }, SECRET, GATEWAY_LABELS.accessToken);
    expect(await openGatewayArtifact(token, SECRET, GATEWAY_LABELS.accessToken, NOW)).toBeUndefined();
    expect(deriveArtifactKey(SECRET, GATEWAY_LABELS.accessToken)).not.toEqual(deriveArtifactKey(SECRET, GATEWAY_LABELS.refreshToken));
  });
});

describe('bound refresh tokens', () => {
  it('round trip, default lifetime 30 days, then refused', async () => {
    const token = await mintBoundRefreshToken({ upstreamRefreshToken: 'up-r', clientId: 'https://c.example/x', resource: RESOURCE, scope: 'openid' }, SECRET, 0, NOW);
    expect(await openBoundRefreshToken(token, SECRET, NOW + 30 * 86400)).toEqual({
      upstreamRefreshToken: 'up-r',
      clientId: 'https://c.example/x',
      resource: RESOURCE,
      scope: 'openid',
      grantExpiresAt: NOW + 30 * 86400,
    });
    expect(await openBoundRefreshToken(token, SECRET, NOW + 30 * 86400 + 1)).toBeUndefined();
    const { token: access } = await mintBoundAccessToken(input, SECRET, 0, NOW);
    expect(await openBoundRefreshToken(access, SECRET, NOW)).toBeUndefined();
  });

  it('a rotated refresh token keeps the grant\'s end: refreshing never extends a stolen token\'s life', async () => {
    const first = await mintBoundRefreshToken({ upstreamRefreshToken: 'up-r', clientId: 'c', resource: RESOURCE, scope: '' }, SECRET, 3600, NOW);
    const opened = await openBoundRefreshToken(first, SECRET, NOW + 3000);
    expect(opened?.grantExpiresAt).toBe(NOW + 3600);
    const rotated = await mintBoundRefreshToken(opened!, SECRET, 3600, NOW + 3000);
    expect((await openBoundRefreshToken(rotated, SECRET, NOW + 3600))?.grantExpiresAt).toBe(NOW + 3600);
    expect(await openBoundRefreshToken(rotated, SECRET, NOW + 3601)).toBeUndefined();
  });
});
