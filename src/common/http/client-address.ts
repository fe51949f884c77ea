import type { IncomingMessage } from 'node:http';

/**
 * The client address as seen through `hops` trusted reverse proxies (`server.rate_limit.proxy_hops`): the
 * socket address when `hops` is 0, otherwise the `X-Forwarded-For` entry that many hops from the right (each
 * proxy appends the address it received the request from, so entries further left are client-supplied and
 * cannot be trusted). The one definition of "which client is this" for the rate limiter and for
 * `notifications/cancelled` matching, so both agree behind a proxy.
 */
export function clientAddress(req: IncomingMessage, hops: number): string {
  const socketAddress = req.socket?.remoteAddress ?? '';
  if (hops <= 0) return socketAddress;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const chain = [...forwarded, socketAddress];
  return chain[Math.max(0, chain.length - 1 - hops)]!;
}
