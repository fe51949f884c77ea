import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ShutdownState } from './shutdown.state.js';

const fakeResponse = () => new EventEmitter() as unknown as ServerResponse;

describe('ShutdownState', () => {
  it('counts a request once even when finish and close both fire', async () => {
    const state = new ShutdownState();
    const res = fakeResponse();
    state.track(res);
    expect(state.inFlightRequests).toBe(1);
    res.emit('finish');
    res.emit('close');
    expect(state.inFlightRequests).toBe(0);
    await expect(state.waitForIdle(10)).resolves.toBe(true);
  });

  it('waitForIdle resolves when the last request ends, or false on timeout', async () => {
    const state = new ShutdownState();
    const a = fakeResponse();
    const b = fakeResponse();
    state.track(a);
    state.track(b);
    await expect(state.waitForIdle(20)).resolves.toBe(false);
    const waiting = state.waitForIdle(5000);
    a.emit('close');
    b.emit('close');
    await expect(waiting).resolves.toBe(true);
    await expect(state.waitForIdle(0)).resolves.toBe(true);
  });

  it('begin() flips shuttingDown', () => {
    const state = new ShutdownState();
    expect(state.shuttingDown).toBe(false);
    state.begin();
    state.begin();
    expect(state.shuttingDown).toBe(true);
  });
});
