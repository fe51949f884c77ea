import { describe, expect, it } from 'vitest';
import { isClickHouseAuthError } from './auth-error.js';

describe('isClickHouseAuthError', () => {
  it.each([
    'sidecar answered HTTP 401',
    'Unauthorized',
    'request failed with status 403',
    'Forbidden: bad audience',
    'Code: 516. DB::Exception: Token authentication is not configured',
    'code: 497, message: ACCESS_DENIED',
    'Code: 516. DB::Exception: default: Authentication failed',
    'CODE: 519 not enough privileges',
  ])('counts %j as an auth refusal', (message) => {
    expect(isClickHouseAuthError(message)).toBe(true);
  });

  it.each([
    'connect ECONNREFUSED 127.0.0.1:8123',
    'Timeout error.',
    'context deadline exceeded',
    'Code: 60. DB::Exception: Table default.x does not exist',
    'Code: 81. Database nope does not exist',
    '',
  ])('does not count %j', (message) => {
    expect(isClickHouseAuthError(message)).toBe(false);
  });

  it('looks only at the first code: a later auth code does not count', () => {
    expect(isClickHouseAuthError('Code: 60. DB::Exception: wrapped Code: 516')).toBe(false);
    expect(isClickHouseAuthError('Code: 516. then Code: 60')).toBe(true);
  });
});
