import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startLoopbackHttpsServer, type LoopbackHttpsServer } from '../../../../test/auth/oauth/loopback-https-server.js';
import { SafeFetchError, SsrfBlockedError, SsrfSafeFetcher, type HostResolver, type SsrfSafeFetchOptions } from './ssrf-safe-fetcher.js';

const JSON_ONLY = { maxBodyBytes: 5120, timeoutMs: 3000, acceptedMediaTypes: ['application/json'] } as const;

function stubResolver(answers: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const found = answers[hostname];
    if (!found) throw new Error(`ENOTFOUND ${hostname}`);
    return found;
  };
  return Object.assign(resolver, { calls });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the fetch to fail');
}

describe('SsrfSafeFetcher: the address policy, before anything is dialled', () => {
  // Vector 52 plus the ranges Go misses (6to4, Teredo, IPv4-mapped, IPv4-compatible).
  const blockedAnswers = [
    '127.0.0.1', '10.0.0.1', '192.168.1.1', '172.16.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
    '192.0.0.1', '192.0.2.1', '198.18.0.1', '198.51.100.1', '203.0.113.1', '240.0.0.1', '255.255.255.255',
    '::1', 'fe80::1', 'fc00::1', '2001:db8::1', '64:ff9b::1', '100::1', '::', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::10.0.0.1', '2002:a9fe:a9fe::1', '2001:0:4136:e378::1',
  ];

  it.each(blockedAnswers)('refuses a name resolving to %s', async (address) => {
    const resolver = stubResolver({ 'client.example': [address] });
    const error = await failure(new SsrfSafeFetcher({ ...JSON_ONLY, resolver }).fetch('https://client.example/doc.json'));
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect((error as SsrfBlockedError).address).toBe(address);
    expect(resolver.calls).toEqual(['client.example']);
  });

  it.each([
    ['https://127.0.0.1/doc.json', '127.0.0.1'],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['https://10.1.2.3/doc.json', '10.1.2.3'],
    ['https://[::1]/doc.json', '::1'],
    ['https://[::ffff:a9fe:a9fe]/doc.json', '::ffff:a9fe:a9fe'],
    ['https://[fd00::1]/doc.json', 'fd00::1'],
    ['https://[2002:7f00:1::]/doc.json', '2002:7f00:1::'],
    ['https://[64:ff9b::a00:1]/doc.json', '64:ff9b::a00:1'],
    // The WHATWG parser turns these spellings into dotted quads; the policy sees the real address.
    ['https://2130706433/doc.json', '127.0.0.1'],
    ['https://0x7f.1/doc.json', '127.0.0.1'],
    ['https://0251.0376.0251.0376/doc.json', '169.254.169.254'],
  ])('refuses the literal host of %s without asking DNS', async (url, address) => {
    const resolver = stubResolver({});
    const error = await failure(new SsrfSafeFetcher({ ...JSON_ONLY, resolver }).fetch(url));
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect((error as SsrfBlockedError).address).toBe(address);
    expect(resolver.calls).toEqual([]);
  });

  it.each([
    [['8.8.8.8', '10.0.0.1']],
    [['127.0.0.1', '169.254.169.254']],
    [['2606:4700:4700::1111', 'fe80::1']],
  ])('refuses a DNS answer %j in which any address is blocked', async (answers) => {
    const resolver = stubResolver({ 'mixed.example': answers });
    const error = await failure(new SsrfSafeFetcher({ ...JSON_ONLY, resolver }).fetch('https://mixed.example/doc.json'));
    expect(error).toBeInstanceOf(SsrfBlockedError);
  });

  it('names an unresolvable or empty host as a DNS failure, not as blocked', async () => {
    const resolver = stubResolver({ 'empty.example': [] });
    const fetcher = new SsrfSafeFetcher({ ...JSON_ONLY, resolver });
    expect(await failure(fetcher.fetch('https://empty.example/x'))).toMatchObject({ failure: 'dns' });
    expect(await failure(fetcher.fetch('https://missing.example/x'))).toMatchObject({ failure: 'dns' });
  });

  it.each(['http://client.example/doc.json', 'ftp://client.example/doc.json', 'file:///etc/passwd', 'not a url'])(
    'fetches https only: %s is refused',
    async (url) => {
      const error = await failure(new SsrfSafeFetcher({ ...JSON_ONLY, resolver: stubResolver({}) }).fetch(url));
      expect(error).toBeInstanceOf(SafeFetchError);
      expect((error as SafeFetchError).failure).toBe('invalid_url');
    },
  );

  it('refuses URLs carrying credentials', async () => {
    const error = await failure(
      new SsrfSafeFetcher({ ...JSON_ONLY, resolver: stubResolver({}) }).fetch('https://u:p@client.example/x'),
    );
    expect(error).toMatchObject({ failure: 'invalid_url' });
  });

  it('times out a resolver that never answers', async () => {
    const resolver: HostResolver = () => new Promise(() => undefined);
    const started = Date.now();
    const error = await failure(
      new SsrfSafeFetcher({ ...JSON_ONLY, timeoutMs: 200, resolver }).fetch('https://hang.example/x'),
    );
    expect(error).toMatchObject({ failure: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('SsrfSafeFetcher against a real loopback HTTPS listener', () => {
  let server: LoopbackHttpsServer;
  let options: SsrfSafeFetchOptions;
  let resolver: ReturnType<typeof stubResolver>;

  beforeAll(async () => {
    server = await startLoopbackHttpsServer(['client.test', 'other.test']);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    resolver = stubResolver({
      'client.test': ['127.0.0.1'],
      'wrong-cert.test': ['127.0.0.1'],
      'metadata.test': ['169.254.169.254'],
      'private.test': ['10.0.0.7'],
    });
    options = {
      ...JSON_ONLY,
      resolver,
      testOnly: { allowLoopback: true, connectPort: server.port, trustedCa: server.certificatePem },
    };
  });

  const fetchDoc = (url = 'https://client.test/oauth/client.json', overrides: Partial<SsrfSafeFetchOptions> = {}) =>
    new SsrfSafeFetcher({ ...options, ...overrides }).fetch(url);

  it('fetches a JSON document; Host and SNI are the name, the dial is pinned (one lookup)', async () => {
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'max-age=60' });
      response.end('{"ok":true}');
    });
    const answer = await fetchDoc();
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('{"ok":true}');
    expect(answer.headers['cache-control']).toBe('max-age=60');
    expect(answer.remoteAddress).toBe('127.0.0.1');
    expect(server.requests).toEqual([{ host: 'client.test', servername: 'client.test', path: '/oauth/client.json' }]);
    expect(resolver.calls).toEqual(['client.test']);
  });

  it('verifies the certificate against the name, not the pinned address', async () => {
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const error = await failure(fetchDoc('https://wrong-cert.test/doc.json'));
    expect(error).toMatchObject({ failure: 'network' });
    expect(server.requests).toEqual([]);
  });

  it('the test-only loopback allowance opens loopback only: link-local and private stay blocked', async () => {
    expect(await failure(fetchDoc('https://metadata.test/doc.json'))).toBeInstanceOf(SsrfBlockedError);
    expect(await failure(fetchDoc('https://private.test/doc.json'))).toBeInstanceOf(SsrfBlockedError);
  });

  it('without the test-only allowance the same loopback listener is refused', async () => {
    const error = await failure(fetchDoc(undefined, { testOnly: undefined }));
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect(server.requests).toEqual([]);
  });

  it.each([301, 302, 303, 307, 308])('does not follow a %i redirect', async (status) => {
    server.setHandler((request, response) => {
      if (request.url === '/elsewhere') response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else response.writeHead(status, { location: 'https://client.test/elsewhere' }).end();
    });
    const error = await failure(fetchDoc());
    expect(error).toMatchObject({ failure: 'redirect' });
    expect(server.requests.map((request) => request.path)).toEqual(['/oauth/client.json']);
  });

  it.each([404, 500, 204])('refuses HTTP %i', async (status) => {
    server.setHandler((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end();
    });
    expect(await failure(fetchDoc())).toMatchObject({ failure: 'status' });
  });

  it.each(['text/html', 'application/json-ld', 'text/json', 'application/jsonx', ''])(
    'refuses content-type %j',
    async (contentType) => {
      server.setHandler((_request, response) => {
        response.writeHead(200, contentType ? { 'content-type': contentType } : {}).end('{}');
      });
      expect(await failure(fetchDoc())).toMatchObject({ failure: 'content_type' });
    },
  );

  it.each(['APPLICATION/JSON', 'application/json; charset=utf-8', 'Application/Json;charset="utf-8"'])(
    'accepts content-type %j',
    async (contentType) => {
      server.setHandler((_request, response) => {
        response.writeHead(200, { 'content-type': contentType }).end('{}');
      });
      expect((await fetchDoc()).body.toString()).toBe('{}');
    },
  );

  it('keeps a hostile content-type short in the error text', async () => {
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': `text/${'a'.repeat(5000)}` }).end('{}');
    });
    const error = await failure(fetchDoc());
    expect(error).toMatchObject({ failure: 'content_type' });
    expect(error.message.length).toBeLessThan(200);
  });

  it('refuses a compressed answer (it asked for identity)', async () => {
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end('xx');
    });
    expect(await failure(fetchDoc())).toMatchObject({ failure: 'content_encoding' });
  });

  it('accepts a body of exactly the cap and cuts one byte more (declared length)', async () => {
    server.setHandler((request, response) => {
      const size = request.url === '/at-cap' ? 5120 : 5121;
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': size });
      response.end('x'.repeat(size));
    });
    expect((await fetchDoc('https://client.test/at-cap')).body.length).toBe(5120);
    expect(await failure(fetchDoc('https://client.test/over-cap'))).toMatchObject({ failure: 'too_large' });
  });

  it('cuts a streamed (chunked, undeclared) body that grows past the cap', async () => {
    let aborted = false;
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = 'y'.repeat(1024);
      const timer = setInterval(() => response.write(chunk), 5);
      response.on('close', () => {
        aborted = true;
        clearInterval(timer);
      });
    });
    expect(await failure(fetchDoc())).toMatchObject({ failure: 'too_large' });
    await vi.waitFor(() => expect(aborted).toBe(true));
  });

  it('gives up on a server that never answers, within the total time cap', async () => {
    server.setHandler(() => undefined);
    const started = Date.now();
    expect(await failure(fetchDoc(undefined, { timeoutMs: 300 }))).toMatchObject({ failure: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('gives up on a body that drips in slower than the total time cap (no per-chunk reset)', async () => {
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => response.write(' '), 50);
      response.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    expect(await failure(fetchDoc(undefined, { timeoutMs: 400 }))).toMatchObject({ failure: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('ignores proxy environment variables', async () => {
    server.setHandler((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"direct":true}');
    });
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, https_proxy: process.env.https_proxy };
    process.env.HTTPS_PROXY = 'http://127.0.0.1:9';
    process.env.https_proxy = 'http://127.0.0.1:9';
    try {
      expect((await fetchDoc()).body.toString()).toBe('{"direct":true}');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
