import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLoopbackHttpsServer, type LoopbackHttpsServer } from '../../../../test/auth/oauth/loopback-https-server.js';
import { SafeFetchError, SsrfBlockedError, type SafeFetchResponse } from '../ssrf/ssrf-safe-fetcher.js';
import { CimdError, type CimdErrorKind } from './cimd-errors.js';
import { CimdResolver, createCimdFetcher, type DocumentFetcher } from './cimd-resolver.js';

const CLIENT = 'https://client.example/oauth/client.json';
const MINUTE = 60_000;

function documentFor(clientId: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    client_id: clientId,
    client_name: 'Example',
    redirect_uris: ['https://client.example/cb'],
    token_endpoint_auth_method: 'none',
    ...overrides,
  });
}

type Answer = { body?: string | Buffer; cacheControl?: string; error?: Error };

/** A fetcher that answers from a table and counts calls; the clock is the test's. */
function setup(answer: (url: string, call: number) => Answer) {
  let now = 5_000_000;
  const calls: string[] = [];
  const fetcher: DocumentFetcher = {
    fetch: async (url) => {
      calls.push(url);
      const { body = documentFor(url), cacheControl, error } = answer(url, calls.length);
      if (error) throw error;
      const response: SafeFetchResponse = {
        status: 200,
        headers: cacheControl === undefined ? {} : { 'cache-control': cacheControl },
        body: Buffer.from(body),
        remoteAddress: '93.184.216.34',
      };
      return response;
    },
  };
  const resolver = new CimdResolver({ fetcher, now: () => now, capacity: 8 });
  return { resolver, calls, advance: (ms: number) => (now += ms) };
}

async function rejection(promise: Promise<unknown>, kind: CimdErrorKind): Promise<CimdError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CimdError);
    expect((error as CimdError).kind).toBe(kind);
    return error as CimdError;
  }
  throw new Error(`expected a ${kind} rejection`);
}

describe('CimdResolver caching (spec §5 vector 55)', () => {
  it('max-age=60: one fetch for two resolves, the same object; refetched after 60 s', async () => {
    const { resolver, calls, advance } = setup(() => ({ cacheControl: 'max-age=60' }));
    const first = await resolver.resolve(CLIENT);
    expect(await resolver.resolve(CLIENT)).toBe(first);
    expect(calls).toHaveLength(1);
    advance(60_000);
    await resolver.resolve(CLIENT);
    expect(calls).toHaveLength(2);
  });

  it.each(['max-age=0', 'no-store', 'no-cache'])('%s: every resolve fetches', async (cacheControl) => {
    const { resolver, calls } = setup(() => ({ cacheControl }));
    for (let index = 0; index < 3; index += 1) await resolver.resolve(CLIENT);
    expect(calls).toHaveLength(3);
  });

  it('private (only unknown directives): cached for 5 minutes', async () => {
    const { resolver, calls } = setup(() => ({ cacheControl: 'private' }));
    await resolver.resolve(CLIENT);
    await resolver.resolve(CLIENT);
    expect(calls).toHaveLength(1);
    expect(resolver.cachedTtl(CLIENT)).toBe(5 * MINUTE);
  });

  it('max-age=999999999: cached for at most 1 hour', async () => {
    const { resolver } = setup(() => ({ cacheControl: 'max-age=999999999' }));
    await resolver.resolve(CLIENT);
    expect(resolver.cachedTtl(CLIENT)).toBe(60 * MINUTE);
  });

  it('concurrent misses share one fetch', async () => {
    const { resolver, calls } = setup(() => ({}));
    const [a, b, c] = await Promise.all([resolver.resolve(CLIENT), resolver.resolve(CLIENT), resolver.resolve(CLIENT)]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(calls).toHaveLength(1);
  });

  it.each<[string, Error]>([
    ['a 302', new SafeFetchError('redirect', 'redirects are not followed (HTTP 302)')],
    ['an oversize body', new SafeFetchError('too_large', 'body exceeds 5120 bytes')],
    ['text/html', new SafeFetchError('content_type', 'content-type text/html is not application/json')],
    ['HTTP 500', new SafeFetchError('status', 'unexpected HTTP status 500')],
    ['a timeout', new SafeFetchError('timeout', 'no complete answer within 3000 ms')],
    ['an unexpected exception', new TypeError('boom')],
  ])('%s is a fetch error and is not cached', async (_name, error) => {
    const { resolver, calls } = setup((_url, call) => (call === 1 ? { error } : {}));
    const failure = await rejection(resolver.resolve(CLIENT), 'fetch');
    expect(failure.message.startsWith('cimd: metadata fetch failed: ')).toBe(true);
    expect(resolver.isNegativelyCached(CLIENT)).toBe(false);
    expect((await resolver.resolve(CLIENT)).clientId).toBe(CLIENT);
    expect(calls).toHaveLength(2);
  });

  it('a client_id mismatch is negative-cached for 30 s', async () => {
    const { resolver, calls, advance } = setup((_url, call) =>
      call === 1 ? { body: documentFor('https://attacker.example/x.json') } : {},
    );
    await rejection(resolver.resolve(CLIENT), 'invalid_metadata');
    await rejection(resolver.resolve(CLIENT), 'invalid_metadata');
    expect(calls).toHaveLength(1);
    advance(29_999);
    await rejection(resolver.resolve(CLIENT), 'invalid_metadata');
    advance(1);
    expect((await resolver.resolve(CLIENT)).clientId).toBe(CLIENT);
    expect(calls).toHaveLength(2);
  });

  it('a body that is not UTF-8 is invalid metadata', async () => {
    const { resolver } = setup(() => ({ body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }));
    const failure = await rejection(resolver.resolve(CLIENT), 'invalid_metadata');
    expect(failure.message).toBe('cimd: invalid metadata document: document is not valid UTF-8');
    expect(resolver.isNegativelyCached(CLIENT)).toBe(true);
  });

  it('an SSRF block is negative-cached and its text does not reveal the address', async () => {
    const { resolver, calls } = setup(() => ({ error: new SsrfBlockedError('client.example', '10.1.2.3', 'private (RFC 1918)') }));
    const failure = await rejection(resolver.resolve(CLIENT), 'ssrf_blocked');
    expect(failure.message).toBe('cimd: target address blocked by SSRF policy: the host resolves to an address that may not be fetched');
    expect(failure.message).not.toContain('10.1.2.3');
    await rejection(resolver.resolve(CLIENT), 'ssrf_blocked');
    expect(calls).toHaveLength(1);
  });

  it('an invalid client_id URL is refused before the cache and never fetched', async () => {
    const { resolver, calls } = setup(() => ({}));
    const failure = await rejection(resolver.resolve('http://client.example/x.json'), 'invalid_url');
    expect(failure.message).toBe('cimd: invalid client_id URL: scheme must be https');
    expect(calls).toHaveLength(0);
  });

  it('a flood of bogus client_ids and failing documents cannot evict a cached client (capacity 8)', async () => {
    const { resolver, calls } = setup((url) =>
      url === CLIENT ? { cacheControl: 'max-age=600' } : { body: documentFor('https://attacker.example/other.json') },
    );
    await resolver.resolve(CLIENT);
    for (let index = 0; index < 50; index += 1) {
      await rejection(resolver.resolve(`https://attacker.example/${index}.json`), 'invalid_metadata');
      await rejection(resolver.resolve(`not-a-url-${index}`), 'invalid_url');
    }
    await resolver.resolve(CLIENT);
    expect(calls.filter((url) => url === CLIENT)).toHaveLength(1);
  });

  it('a failure after the positive entry expired is remembered; a later good document replaces it', async () => {
    const { resolver, advance } = setup((_url, call) =>
      call === 2 ? { body: documentFor(CLIENT, { client_secret: 'x' }) } : { cacheControl: 'max-age=60' },
    );
    await resolver.resolve(CLIENT);
    advance(60_000);
    await rejection(resolver.resolve(CLIENT), 'invalid_metadata');
    advance(30_000);
    expect((await resolver.resolve(CLIENT)).clientName).toBe('Example');
    expect(resolver.isNegativelyCached(CLIENT)).toBe(false);
  });
});

describe('CimdResolver through the real SSRF-safe fetcher (loopback HTTPS, stub DNS)', () => {
  let server: LoopbackHttpsServer;
  const LOOPBACK_CLIENT = 'https://cimd.test/oauth/client.json';

  beforeAll(async () => {
    server = await startLoopbackHttpsServer(['cimd.test']);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
  });

  const resolverWith = (answers: Record<string, string[]>, allowLoopback = true) =>
    new CimdResolver({
      fetcher: createCimdFetcher({
        resolver: async (host) => answers[host] ?? [],
        testOnly: allowLoopback ? { allowLoopback: true, connectPort: server.port, trustedCa: server.certificatePem } : undefined,
      }),
    });

  it('fetches, validates and caches a document (Accept: application/json)', async () => {
    let accept: string | undefined;
    server.setHandler((request, response) => {
      accept = request.headers.accept;
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=120' });
      response.end(documentFor(LOOPBACK_CLIENT, { client_name: 'Loopback client' }));
    });
    const resolver = resolverWith({ 'cimd.test': ['127.0.0.1'] });
    const client = await resolver.resolve(LOOPBACK_CLIENT);
    expect(client).toMatchObject({ clientId: LOOPBACK_CLIENT, clientName: 'Loopback client', tokenEndpointAuthMethod: 'none' });
    await resolver.resolve(LOOPBACK_CLIENT);
    expect(server.requests).toEqual([{ host: 'cimd.test', servername: 'cimd.test', path: '/oauth/client.json' }]);
    expect(accept).toBe('application/json');
    expect(resolver.cachedTtl(LOOPBACK_CLIENT)).toBeGreaterThan(119_000);
  });

  it.each<[string, (response: import('node:http').ServerResponse) => void]>([
    ['a 5121-byte body', (response) => response.writeHead(200, { 'content-type': 'application/json' }).end(' '.repeat(5121))],
    ['text/html', (response) => response.writeHead(200, { 'content-type': 'text/html' }).end(documentFor(LOOPBACK_CLIENT))],
    ['a 302', (response) => response.writeHead(302, { location: 'https://cimd.test/elsewhere' }).end()],
    ['HTTP 500', (response) => response.writeHead(500).end()],
  ])('%s → fetch error, not cached', async (_name, reply) => {
    server.setHandler((_request, response) => reply(response));
    const resolver = resolverWith({ 'cimd.test': ['127.0.0.1'] });
    await rejection(resolver.resolve(LOOPBACK_CLIENT), 'fetch');
    await rejection(resolver.resolve(LOOPBACK_CLIENT), 'fetch');
    expect(server.requests).toHaveLength(2);
  });

  it('DNS → 10.1.2.3 is blocked and nothing is dialled (spec §5 vector 56)', async () => {
    const resolver = resolverWith({ 'cimd.test': ['10.1.2.3'] });
    await rejection(resolver.resolve(LOOPBACK_CLIENT), 'ssrf_blocked');
    expect(resolver.isNegativelyCached(LOOPBACK_CLIENT)).toBe(true);
    expect(server.requests).toEqual([]);
  });

  it('DNS → [127.0.0.1, 169.254.169.254] is blocked in production mode', async () => {
    const resolver = resolverWith({ 'cimd.test': ['127.0.0.1', '169.254.169.254'] }, false);
    await rejection(resolver.resolve(LOOPBACK_CLIENT), 'ssrf_blocked');
    expect(server.requests).toEqual([]);
  });

  it('DNS → [a public address, 169.254.169.254] is blocked (Go would dial the public one)', async () => {
    const resolver = resolverWith({ 'cimd.test': ['93.184.216.34', '169.254.169.254'] }, false);
    await rejection(resolver.resolve(LOOPBACK_CLIENT), 'ssrf_blocked');
  });
});
