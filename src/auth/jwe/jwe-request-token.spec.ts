import { describe, expect, it } from 'vitest';
import { classifyJweMcpPath, requestJweToken, segmentBeforeOpenApi } from './jwe-request-token.js';

describe('classifyJweMcpPath (auth spec §1.5 routes, JWE only)', () => {
  it('serves streamable HTTP at /{token}: one non-empty segment, one trailing slash stripped', () => {
    expect(classifyJweMcpPath('/abc.def', 'http')).toEqual({ found: true, pathToken: 'abc.def', prefix: '/abc.def', template: '/{token}' });
    expect(classifyJweMcpPath('/abc/', 'http')).toMatchObject({ found: true, pathToken: 'abc' });
    expect(classifyJweMcpPath('/', 'http')).toEqual({ found: true, prefix: '', template: '/' });
  });

  it('percent-decodes the path value as Go does, and keeps undecodable text as sent', () => {
    expect(classifyJweMcpPath('/a%2Eb', 'http')).toMatchObject({ pathToken: 'a.b', prefix: '/a%2Eb' });
    expect(classifyJweMcpPath('/a%zzb', 'http')).toMatchObject({ pathToken: 'a%zzb' });
  });

  it.each(['/a/b', '/a//', '//a', '/a/sse', '/../etc/passwd', '/a/b/'])('HTTP: %s is not found', (path) => {
    expect(classifyJweMcpPath(path, 'http')).toEqual({ found: false, template: '/{token}' });
  });

  it('serves SSE at /{token}/sse (and the pathless /sse for header tokens)', () => {
    expect(classifyJweMcpPath('/tok/sse', 'sse')).toEqual({ found: true, pathToken: 'tok', prefix: '/tok', template: '/{token}/sse' });
    expect(classifyJweMcpPath('/tok/sse/', 'sse')).toMatchObject({ found: true, pathToken: 'tok' });
    expect(classifyJweMcpPath('/sse', 'sse')).toEqual({ found: true, prefix: '', template: '/sse' });
  });

  it.each(['/', '/tok', '/tok/sse/x', '//sse', '/a/b/sse', '/tok/SSE'])('SSE: %s is not found', (path) => {
    expect(classifyJweMcpPath(path, 'sse').found).toBe(false);
  });
});

describe('requestJweToken (upstream ValidateAuth order: path, Bearer/Basic, x-altinity-mcp-key, segment before openapi)', () => {
  it('auth spec §5 vector 14: each source alone', () => {
    expect(requestJweToken({ authorization: 'Bearer test-token' }, undefined)).toBe('test-token');
    expect(requestJweToken({ authorization: 'Basic abc123' }, undefined)).toBe('abc123');
    expect(requestJweToken({ 'x-altinity-mcp-key': 'custom-key' }, undefined)).toBe('custom-key');
    expect(requestJweToken({}, undefined, '/my-token/openapi/execute_query')).toBe('my-token');
    expect(requestJweToken({}, undefined, '/openapi/execute_query')).toBeUndefined();
    expect(requestJweToken({}, undefined)).toBeUndefined();
  });

  it('the path value wins over headers (upstream §D.3 supersedes the old Bearer-first order)', () => {
    const headers = { authorization: 'Bearer from-bearer', 'x-altinity-mcp-key': 'from-key' };
    expect(requestJweToken(headers, 'from-path')).toBe('from-path');
    expect(requestJweToken(headers, undefined)).toBe('from-bearer');
    expect(requestJweToken({ 'x-altinity-mcp-key': 'from-key' }, '')).toBe('from-key');
  });

  it('Authorization prefixes are case-sensitive, the remainder verbatim (no trim, no base64 decoding), empty skipped', () => {
    expect(requestJweToken({ authorization: 'bearer x', 'x-altinity-mcp-key': 'k' }, undefined)).toBe('k');
    expect(requestJweToken({ authorization: 'Bearer  x ' }, undefined)).toBe(' x ');
    expect(requestJweToken({ authorization: 'Basic dXNlcjpwdw==' }, undefined)).toBe('dXNlcjpwdw==');
    expect(requestJweToken({ authorization: 'Bearer ', 'x-altinity-mcp-key': 'k' }, undefined)).toBe('k');
    expect(requestJweToken({ authorization: 'Token x' }, undefined)).toBeUndefined();
  });

  it('segmentBeforeOpenApi finds the segment right before `openapi`', () => {
    expect(segmentBeforeOpenApi('/t/openapi')).toBe('t');
    expect(segmentBeforeOpenApi('/openapi/t')).toBeUndefined();
    expect(segmentBeforeOpenApi('/a/b/openapi/x')).toBe('b');
  });
});
