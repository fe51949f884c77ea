import { describe, expect, it } from 'vitest';
import { rfc3339Now } from './health-response.js';

describe('rfc3339Now', () => {
  it('prints UTC RFC 3339 without fractional seconds, as Go does', () => {
    expect(rfc3339Now(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02T03:04:05Z');
    expect(rfc3339Now()).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });
});
