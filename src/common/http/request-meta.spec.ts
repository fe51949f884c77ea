import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { initRequestMeta, normalizeMethod, pathOf, resolveRequestId, routeTemplateOf, setRouteTemplate } from './request-meta.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const req = (extra: Record<string, unknown> = {}): IncomingMessage => ({ headers: {}, url: '/', ...extra }) as unknown as IncomingMessage;

describe('resolveRequestId', () => {
  it('keeps a sane caller id', () => {
    expect(resolveRequestId('abc-123_x.y')).toBe('abc-123_x.y');
    expect(resolveRequestId('a'.repeat(128))).toBe('a'.repeat(128));
  });

  it.each([['a'.repeat(129)], [''], ['has space'], ['semi;colon'], ['new\nline'], ['ünïcode'], [undefined]])('replaces %j with a UUID', (value) => {
    expect(resolveRequestId(value as string | undefined)).toMatch(UUID);
  });

  it('replaces a repeated header with a UUID', () => {
    expect(resolveRequestId(['a', 'b'])).toMatch(UUID);
  });
});

describe('routeTemplateOf', () => {
  it('is unmatched when no route served the request', () => {
    const r = req();
    initRequestMeta(r, 'id');
    expect(routeTemplateOf(r)).toBe('unmatched');
  });

  it("uses Express's matched route path, never the raw URL", () => {
    const r = req({ url: '/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig/x', route: { path: '/:token/x' }, baseUrl: '' });
    expect(routeTemplateOf(r)).toBe('/:token/x');
  });

  it('prefers a template set by a handler', () => {
    const r = req({ route: { path: '/*path' } });
    initRequestMeta(r, 'id');
    setRouteTemplate(r, '/{token}');
    expect(routeTemplateOf(r)).toBe('/{token}');
  });
});

describe('normalizeMethod / pathOf', () => {
  it('folds unusual methods into other', () => {
    expect(normalizeMethod('GET')).toBe('GET');
    expect(normalizeMethod('PROPFIND')).toBe('other');
    expect(normalizeMethod(undefined)).toBe('other');
  });

  it('drops the query string', () => {
    expect(pathOf(req({ url: '/a/b?token=secret#x' }))).toBe('/a/b');
    expect(pathOf(req({ originalUrl: '/orig?q=1', url: '/rewritten' }))).toBe('/orig');
  });
});
