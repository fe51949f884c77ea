import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress } from './rate-limit.guard.js';

const req = (remoteAddress: string, xff?: string | string[]): IncomingMessage =>
  ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('clientAddress (rate-limit tracker)', () => {
  it('is the socket address without trusted proxies, whatever X-Forwarded-For says', () => {
    expect(clientAddress(req('10.1.1.1', '1.2.3.4'), 0)).toBe('10.1.1.1');
  });

  it('takes the entry `hops` places from the right, the socket address being the last', () => {
    expect(clientAddress(req('10.1.1.1', '1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(req('10.1.1.1', 'spoofed, 1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(req('10.1.1.1', 'spoofed, 1.2.3.4, 10.0.0.7'), 2)).toBe('1.2.3.4');
    expect(clientAddress(req('10.1.1.1', ['spoofed', ' 1.2.3.4 ']), 1)).toBe('1.2.3.4');
  });

  it('falls back to the left-most address when the chain is shorter than expected', () => {
    expect(clientAddress(req('10.1.1.1'), 1)).toBe('10.1.1.1');
    expect(clientAddress(req('10.1.1.1', '1.2.3.4'), 3)).toBe('1.2.3.4');
  });
});
