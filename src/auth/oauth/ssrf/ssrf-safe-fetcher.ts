import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { blockedAddressReason } from './blocked-addresses.js';

/** Answers every address a name resolves to. Injectable so tests never touch real DNS. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((answer) => answer.address);

export interface SsrfSafeFetchOptions {
  /** Hard cap on the body; a larger `Content-Length` or stream aborts the request. */
  readonly maxBodyBytes: number;
  /** One deadline for everything: DNS, connect, TLS, headers and body. */
  readonly timeoutMs: number;
  /** Media types accepted (compared case-insensitively, parameters allowed), e.g. `application/json`. */
  readonly acceptedMediaTypes: readonly string[];
  readonly resolver?: HostResolver;
  /**
   * ONLY for tests, never set from configuration: lets a test serve HTTPS from a loopback listener. Loopback
   * addresses (127/8, ::1) become dialable, the dial goes to `connectPort` instead of the URL's port and
   * `trustedCa` is added to the trust store. Every other range stays blocked.
   */
  readonly testOnly?: { readonly allowLoopback: true; readonly connectPort?: number; readonly trustedCa?: string };
}

export interface SafeFetchResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The address that was actually dialled (after the checks). */
  readonly remoteAddress: string;
}

/** The target resolved (or was written) to an address the policy refuses; nothing was dialled. */
export class SsrfBlockedError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`refusing to connect to ${host}: address ${address} is ${reason}`);
    this.name = 'SsrfBlockedError';
  }
}

export type SafeFetchFailure =
  | 'invalid_url'
  | 'dns'
  | 'network'
  | 'timeout'
  | 'redirect'
  | 'status'
  | 'content_type'
  | 'content_encoding'
  | 'too_large';

/** Any other reason the fetch gave no usable answer. Transient by nature: callers must not negative-cache it. */
export class SafeFetchError extends Error {
  constructor(
    readonly failure: SafeFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SafeFetchError';
  }
}

const LOOPBACK_REASONS = new Set(['loopback', 'IPv4-mapped loopback']);

/**
 * GETs an https URL whose host a client chose, without letting it reach anything but a public address:
 * resolve once, refuse if ANY answer is blocked (Go dials the first public one; a mixed answer is itself a
 * rebinding signal), dial exactly the checked address (Host and SNI stay the name, the certificate is verified
 * for the name), re-check the connected peer, no redirects, no proxies (Node's https ignores proxy variables
 * and `agent: false` bypasses any global agent), no compression, size and time caps, media-type check.
 */
export class SsrfSafeFetcher {
  private readonly resolver: HostResolver;

  constructor(private readonly options: SsrfSafeFetchOptions) {
    this.resolver = options.resolver ?? systemResolver;
  }

  async fetch(rawUrl: string): Promise<SafeFetchResponse> {
    const deadline = Date.now() + this.options.timeoutMs;
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new SafeFetchError('invalid_url', 'the URL does not parse');
    }
    if (url.protocol !== 'https:') throw new SafeFetchError('invalid_url', 'only https URLs are fetched');
    if (url.username !== '' || url.password !== '') {
      throw new SafeFetchError('invalid_url', 'URLs with credentials are not fetched');
    }
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const address = await this.pickAddress(hostname, deadline);
    return this.request(url, hostname, address, deadline);
  }

  private blockedReason(address: string): string | undefined {
    const reason = blockedAddressReason(address);
    if (reason !== undefined && this.options.testOnly?.allowLoopback && LOOPBACK_REASONS.has(reason)) {
      return undefined;
    }
    return reason;
  }

  private async pickAddress(hostname: string, deadline: number): Promise<string> {
    let answers: string[];
    if (isIP(hostname) !== 0) {
      answers = [hostname];
    } else {
      try {
        answers = await withDeadline(this.resolver(hostname), deadline, 'DNS resolution');
      } catch (error) {
        if (error instanceof SafeFetchError) throw error;
        throw new SafeFetchError('dns', `could not resolve ${hostname}`);
      }
    }
    if (answers.length === 0) throw new SafeFetchError('dns', `${hostname} has no addresses`);
    for (const answer of answers) {
      const reason = this.blockedReason(answer);
      if (reason !== undefined) throw new SsrfBlockedError(hostname, answer, reason);
    }
    return answers[0]!;
  }

  private request(url: URL, hostname: string, address: string, deadline: number): Promise<SafeFetchResponse> {
    const family = isIP(address);
    // The socket layer calls this instead of DNS: it can only ever get the address checked above.
    const pinnedLookup = ((_name: string, lookupOptions: { all?: boolean }, callback: (...answer: unknown[]) => void) => {
      if (lookupOptions?.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    }) as unknown as LookupFunction;
    const testOnly = this.options.testOnly;
    const { maxBodyBytes, acceptedMediaTypes } = this.options;

    return new Promise<SafeFetchResponse>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        reject(error);
      };
      const request = httpsRequest({
        protocol: 'https:',
        host: hostname,
        port: testOnly?.connectPort ?? (url.port === '' ? 443 : Number(url.port)),
        servername: isIP(hostname) === 0 ? hostname : undefined,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        lookup: pinnedLookup,
        agent: false,
        minVersion: 'TLSv1.2',
        ca: testOnly?.trustedCa,
        headers: {
          host: url.host,
          accept: acceptedMediaTypes.join(', '),
          'accept-encoding': 'identity',
          'user-agent': 'clickhouse-mcp-gateway',
        },
      });
      const timer = setTimeout(
        () => fail(new SafeFetchError('timeout', `no complete answer within ${this.options.timeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      );
      request.on('socket', (socket) => {
        socket.once('connect', () => {
          const peer = socket.remoteAddress ?? '';
          const reason = this.blockedReason(peer);
          if (reason !== undefined) fail(new SsrfBlockedError(hostname, peer, reason));
        });
      });
      request.on('error', (error) => {
        const code = (error as NodeJS.ErrnoException).code;
        fail(new SafeFetchError('network', `request to ${hostname} failed${code ? ` (${code})` : ''}`));
      });
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          return fail(new SafeFetchError('redirect', `redirects are not followed (HTTP ${status})`));
        }
        if (status !== 200) return fail(new SafeFetchError('status', `unexpected HTTP status ${status}`));
        const encoding = (response.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
        if (encoding !== 'identity') {
          return fail(new SafeFetchError('content_encoding', `content-encoding ${encoding.slice(0, 40)} is not accepted`));
        }
        const mediaType = (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!acceptedMediaTypes.some((accepted) => accepted.toLowerCase() === mediaType)) {
          return fail(
            new SafeFetchError(
              'content_type',
              `content-type ${mediaType.slice(0, 80) || '(none)'} is not ${acceptedMediaTypes.join(' or ')}`,
            ),
          );
        }
        const declaredLength = Number(response.headers['content-length'] ?? NaN);
        if (declaredLength > maxBodyBytes) {
          return fail(new SafeFetchError('too_large', `body exceeds ${maxBodyBytes} bytes`));
        }
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBodyBytes) return fail(new SafeFetchError('too_large', `body exceeds ${maxBodyBytes} bytes`));
          chunks.push(chunk);
        });
        response.on('error', () => fail(new SafeFetchError('network', `reading the answer from ${hostname} failed`)));
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status, headers: response.headers, body: Buffer.concat(chunks), remoteAddress: address });
        });
      });
      request.end();
    });
  }
}

async function withDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SafeFetchError('timeout', `${what} did not finish in time`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
