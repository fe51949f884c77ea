import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../../../metrics/metrics.service.js';

export const BROKER_ENDPOINTS = ['metadata', 'register', 'authorize', 'consent', 'callback', 'token'] as const;
export type BrokerEndpoint = (typeof BROKER_ENDPOINTS)[number];

/** Outcomes counted; anything else is `other`, so label values stay bounded whatever a client sends. */
export const BROKER_OUTCOMES = [
  'ok',
  'redirect_upstream',
  'consent_page',
  'consent_denied',
  'upstream_error',
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'invalid_target',
  'unsupported_grant_type',
  'forbidden',
  'gone',
  'rate_limited',
  'server_error',
] as const;
const OUTCOMES: ReadonlySet<string> = new Set(BROKER_OUTCOMES);

/**
 * `oauth_broker_requests_total{endpoint, outcome}` on `/metrics`, registered in the gateway's registry by the
 * broker module itself (nothing when metrics are disabled).
 */
@Injectable()
export class BrokerMetrics {
  private readonly requests?: Counter<'endpoint' | 'outcome'>;

  constructor(metrics: MetricsService) {
    if (!metrics.enabled) return;
    this.requests = new Counter({
      name: 'oauth_broker_requests_total',
      help: 'OAuth broker requests by endpoint (metadata, register, authorize, consent, callback, token) and outcome (ok, an OAuth error code, redirect_upstream, consent_page, …).',
      labelNames: ['endpoint', 'outcome'] as const,
      registers: [metrics.registry],
    });
  }

  record(endpoint: BrokerEndpoint, outcome: string): void {
    this.requests?.inc({ endpoint, outcome: OUTCOMES.has(outcome) ? outcome : 'other' });
  }
}
