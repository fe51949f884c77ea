import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress } from './client-address.js';

const req = (socket: string | undefined, xff?: string | string[]) =>
  ({ socket: { remoteAddress: socket }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('is the socket address without trusted proxies, whatever X-Forwarded-For says', () => {
    expect(clientAddress(req('10.1.1.1', '1.2.3.4'), 0)).toBe('10.1.1.1');
  });

  it('takes the entry `hops` from the right, ignoring what the client prepended', () => {
    expect(clientAddress(req('10.1.1.1', '1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(req('10.1.1.1', 'spoofed, 1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(req('10.1.1.1', 'spoofed, 1.2.3.4, 10.0.0.7'), 2)).toBe('1.2.3.4');
    expect(clientAddress(req('10.1.1.1', ['spoofed', ' 1.2.3.4 ']), 1)).toBe('1.2.3.4');
  });

  it('falls back to the leftmost known hop when the chain is shorter than `hops`, and to "" without a socket', () => {
    expect(clientAddress(req('10.1.1.1'), 1)).toBe('10.1.1.1');
    expect(clientAddress(req('10.1.1.1', '1.2.3.4'), 3)).toBe('1.2.3.4');
    expect(clientAddress(req(undefined), 0)).toBe('');
  });
});
