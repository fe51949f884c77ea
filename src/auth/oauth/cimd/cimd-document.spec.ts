import { describe, expect, it } from 'vitest';
import { parseCimdDocument } from './cimd-document.js';
import { CimdError } from './cimd-errors.js';

const URL_ID = 'https://client.example/oauth/client.json';

function doc(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: URL_ID,
    client_name: 'Example client',
    redirect_uris: ['https://client.example/callback'],
    token_endpoint_auth_method: 'none',
    ...overrides,
  };
}

function rejection(body: string, url = URL_ID): CimdError {
  try {
    parseCimdDocument(url, body);
  } catch (error) {
    expect(error).toBeInstanceOf(CimdError);
    expect((error as CimdError).kind).toBe('invalid_metadata');
    expect((error as CimdError).message.startsWith('cimd: invalid metadata document: ')).toBe(true);
    return error as CimdError;
  }
  throw new Error('expected the document to be refused');
}

describe('parseCimdDocument: accepted documents', () => {
  it('keeps the name, redirect URIs and method of a public client', () => {
    expect(parseCimdDocument(URL_ID, JSON.stringify(doc()))).toEqual({
      clientId: URL_ID,
      clientName: 'Example client',
      redirectUris: ['https://client.example/callback'],
      tokenEndpointAuthMethod: 'none',
    });
  });

  it('accepts the claude.ai document (grant_types with refresh_token and jwt-bearer beside authorization_code)', () => {
    const claude = doc({
      client_id: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
      client_name: 'Claude',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
      response_types: ['code'],
      client_uri: 'https://claude.ai',
    });
    const client = parseCimdDocument('https://claude.ai/oauth/mcp-oauth-client-metadata', JSON.stringify(claude));
    expect(client.redirectUris).toEqual(['https://claude.ai/api/mcp/auth_callback']);
  });

  it('keeps jwks_uri for private_key_jwt (loopback passes here; SSRF is checked when fetching)', () => {
    for (const jwksUri of ['https://chatgpt.com/oauth/jwks.json', 'https://127.0.0.1/jwks.json']) {
      const client = parseCimdDocument(URL_ID, JSON.stringify(doc({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri })));
      expect(client).toMatchObject({ tokenEndpointAuthMethod: 'private_key_jwt', jwksUri });
    }
  });

  it('accepts 20 redirect URIs, a 128-byte name, an absent client_secret_expires_at or 0, and ignores unknown members', () => {
    const redirects = Array.from({ length: 20 }, (_, index) => `https://client.example/cb/${index}`);
    const client = parseCimdDocument(
      URL_ID,
      JSON.stringify(doc({ redirect_uris: redirects, client_name: 'n'.repeat(128), client_secret_expires_at: 0, x_vendor: { a: 1 } })),
    );
    expect(client.redirectUris).toHaveLength(20);
    expect(parseCimdDocument(URL_ID, JSON.stringify(doc({ client_secret: '' }))).clientId).toBe(URL_ID);
  });
});

describe('parseCimdDocument: every document rule refuses (spec §5 vector 54 and §2.7)', () => {
  it.each<[string, string, RegExp]>([
    ['client_id mismatch', JSON.stringify(doc({ client_id: 'https://client.example/oauth/other.json' })), /does not equal/],
    ['client_id with a trailing slash', JSON.stringify(doc({ client_id: `${URL_ID}/` })), /does not equal/],
    ['client_id missing', JSON.stringify(doc({ client_id: undefined })), /does not equal/],
    ['empty name', JSON.stringify(doc({ client_name: '' })), /client_name must be 1–128 bytes/],
    ['missing name', JSON.stringify(doc({ client_name: undefined })), /client_name/],
    ['129-character name', JSON.stringify(doc({ client_name: 'n'.repeat(129) })), /client_name/],
    ['65 two-byte characters (130 bytes)', JSON.stringify(doc({ client_name: 'é'.repeat(65) })), /client_name/],
    ['client_secret present', JSON.stringify(doc({ client_secret: 's3cret' })), /client_secret must not be present/],
    ['client_secret_expires_at non-zero', JSON.stringify(doc({ client_secret_expires_at: 1 })), /client_secret_expires_at/],
    ['empty redirect_uris', JSON.stringify(doc({ redirect_uris: [] })), /redirect_uris must hold 1–20/],
    ['missing redirect_uris', JSON.stringify(doc({ redirect_uris: undefined })), /redirect_uris must hold/],
    ['21 redirect_uris', JSON.stringify(doc({ redirect_uris: Array.from({ length: 21 }, (_, i) => `https://c.example/${i}`) })), /1–20/],
    ['duplicate redirect_uris', JSON.stringify(doc({ redirect_uris: ['https://c.example/cb', 'https://c.example/cb'] })), /repeat/],
    ['http redirect', JSON.stringify(doc({ redirect_uris: ['http://client.example/cb'] })), /https/],
    ['loopback http redirect', JSON.stringify(doc({ redirect_uris: ['http://127.0.0.1:8080/cb'] })), /https/],
    ['custom-scheme redirect', JSON.stringify(doc({ redirect_uris: ['com.example.app:/cb'] })), /absolute https/],
    ['ftp redirect', JSON.stringify(doc({ redirect_uris: ['ftp://client.example/cb'] })), /https/],
    ['opaque https redirect', JSON.stringify(doc({ redirect_uris: ['https:client.example/cb'] })), /absolute https/],
    ['hostless redirect', JSON.stringify(doc({ redirect_uris: ['https:///cb'] })), /must have a host/],
    ['empty redirect', JSON.stringify(doc({ redirect_uris: [''] })), /1–2048 characters/],
    ['2049-character redirect', JSON.stringify(doc({ redirect_uris: [`https://c.example/${'a'.repeat(2031)}`] })), /1–2048/],
    ['redirect with a fragment', JSON.stringify(doc({ redirect_uris: ['https://c.example/cb#x'] })), /fragment/],
    ['redirect with a newline', JSON.stringify(doc({ redirect_uris: ['https://c.example/c\nb'] })), /control/],
    ['grant_types password', JSON.stringify(doc({ grant_types: ['password'] })), /grant_types must include "authorization_code"/],
    ['grant_types refresh_token alone', JSON.stringify(doc({ grant_types: ['refresh_token'] })), /authorization_code/],
    ['grant_types empty', JSON.stringify(doc({ grant_types: [] })), /authorization_code/],
    ['response_types token', JSON.stringify(doc({ response_types: ['token'] })), /^cimd: invalid metadata document: unsupported response_type "token"$/],
    ['response_types code + id_token', JSON.stringify(doc({ response_types: ['code', 'id_token'] })), /unsupported response_type "id_token"/],
    ['trailing tokens after the JSON', `${JSON.stringify(doc())} extra`, /not valid JSON/],
    ['two JSON values', `${JSON.stringify(doc())}{}`, /not valid JSON/],
    ['a JSON array', '[]', /JSON object/],
    ['null', 'null', /JSON object/],
    ['client_name as a number', JSON.stringify(doc({ client_name: 7 })), /client_name must be a string/],
    ['redirect_uris as a string', JSON.stringify(doc({ redirect_uris: 'https://c.example/cb' })), /redirect_uris must be an array of strings/],
    ['redirect_uris with a number', JSON.stringify(doc({ redirect_uris: [1] })), /array of strings/],
    ['grant_types as a string', JSON.stringify(doc({ grant_types: 'authorization_code' })), /array of strings/],
    ['client_secret_expires_at as a string', JSON.stringify(doc({ client_secret_expires_at: '0' })), /must be a number/],
    ['case-sensitive member names', JSON.stringify({ ...doc({ client_id: undefined }), Client_ID: URL_ID }), /does not equal/],
  ])('%s', (_name, body, reason) => {
    expect(rejection(body).message).toMatch(reason);
  });

  it.each<[string, unknown, string]>([
    ['missing', undefined, 'token_endpoint_auth_method "" unsupported (only "none" and "private_key_jwt")'],
    ['client_secret_post', 'client_secret_post', 'token_endpoint_auth_method "client_secret_post" unsupported (only "none" and "private_key_jwt")'],
    ['client_secret_basic', 'client_secret_basic', 'token_endpoint_auth_method "client_secret_basic" unsupported (only "none" and "private_key_jwt")'],
    ['None (case)', 'None', 'token_endpoint_auth_method "None" unsupported (only "none" and "private_key_jwt")'],
  ])('refuses token_endpoint_auth_method %s with Go’s text', (_name, method, text) => {
    expect(rejection(JSON.stringify(doc({ token_endpoint_auth_method: method }))).detail).toBe(text);
  });

  it('cuts a very long unsupported value in the error text', () => {
    const error = rejection(JSON.stringify(doc({ token_endpoint_auth_method: 'x'.repeat(5000) })));
    expect(error.message.length).toBeLessThan(300);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['missing jwks_uri', { token_endpoint_auth_method: 'private_key_jwt' }, /jwks_uri is required/],
    ['empty jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: '' }, /jwks_uri is required/],
    ['http jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://x/jwks.json' }, /jwks_uri scheme must be https/],
    ['userinfo jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://u:p@x/jwks.json' }, /jwks_uri must not carry userinfo/],
    ['jwks_uri with fragment', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://x/j.json#a' }, /fragment/],
    ['jwks_uri on port 8443', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://x:8443/j.json' }, /port/],
    ['jwks_uri with dot segments', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://x/a/%2e%2e/j.json' }, /normalised/],
    [
      'client_secret inside a private_key_jwt document',
      { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://x.example/jwks.json', client_secret: 'abc' },
      /client_secret/,
    ],
  ])('private_key_jwt: refuses %s', (_name, overrides, reason) => {
    expect(rejection(JSON.stringify(doc(overrides))).message).toMatch(reason);
  });
});
