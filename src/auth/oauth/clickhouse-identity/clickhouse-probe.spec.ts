import { describe, expect, it } from 'vitest';
import { ClickHouseQueryError } from '../../../clickhouse/clickhouse-error.js';
import type { ConnectionSpec } from '../../../clickhouse/clickhouse.types.js';
import type { ConnectionOverrides } from '../../../common/request-context.js';
import type { ClickHouseConfig } from '../../../config/config.types.js';
import { clickHouseConnectionProbe, type ProbeTarget } from './clickhouse-probe.js';

const CONFIG = { host: 'ch', port: 8123 } as unknown as ClickHouseConfig;

function target(failure?: unknown) {
  const seen: Array<{ overrides?: ConnectionOverrides; timeoutMs?: number }> = [];
  const t: ProbeTarget = {
    connectionFromConfig: (_cfg, overrides) => ({ overrides }) as unknown as ConnectionSpec,
    ping: async (conn, opts) => {
      seen.push({ overrides: (conn as unknown as { overrides?: ConnectionOverrides }).overrides, timeoutMs: opts?.timeoutMs });
      if (failure !== undefined) throw failure;
    },
  };
  return { t, seen };
}

const chError = (init: Partial<ConstructorParameters<typeof ClickHouseQueryError>[0]>) =>
  new ClickHouseQueryError({ kind: 'other', serverMessage: '', userMessage: 'failed', ...init });

describe('clickHouseConnectionProbe', () => {
  it('pings with the candidate overrides and the given timeout', async () => {
    const { t, seen } = target();
    const probe = clickHouseConnectionProbe(t, () => CONFIG, 1500);
    expect(await probe({ bearerToken: 'tok' })).toEqual({ ok: true });
    expect(seen).toEqual([{ overrides: { bearerToken: 'tok' }, timeoutMs: 1500 }]);
  });

  it.each([
    ['HTTP 401', chError({ httpStatus: 401, serverMessage: 'nope' })],
    ['HTTP 403', chError({ httpStatus: 403, serverMessage: 'nope' })],
    ['code 516', chError({ code: 516, httpStatus: 500, serverMessage: 'Authentication failed' })],
    ['code 497', chError({ code: 497, serverMessage: 'denied' })],
    ['kind auth_failed (wrong password, 193)', chError({ kind: 'auth_failed', code: 193, serverMessage: 'Wrong password' })],
  ])('reports %s as an auth refusal', async (_label, err) => {
    const probe = clickHouseConnectionProbe(target(err).t, () => CONFIG);
    expect(await probe({})).toMatchObject({ ok: false, authRefused: true });
  });

  it('does not take a port number in a transport error for a 401', async () => {
    const err = chError({ kind: 'unreachable', serverMessage: 'connect ECONNREFUSED 127.0.0.1:14010' });
    const probe = clickHouseConnectionProbe(target(err).t, () => CONFIG);
    expect(await probe({})).toEqual({ ok: false, authRefused: false, message: 'connect ECONNREFUSED 127.0.0.1:14010' });
  });

  it('puts the ClickHouse code first in the message, as the Go predicate reads it', async () => {
    const probe = clickHouseConnectionProbe(target(chError({ code: 60, serverMessage: 'Table x does not exist' })).t, () => CONFIG);
    expect(await probe({})).toEqual({ ok: false, authRefused: false, message: 'code: 60, Table x does not exist' });
  });

  it('leaves an unknown error to the substring predicate (no verdict)', async () => {
    const probe = clickHouseConnectionProbe(target(new Error('socket hang up')).t, () => CONFIG);
    expect(await probe({})).toEqual({ ok: false, message: 'socket hang up' });
  });
});
