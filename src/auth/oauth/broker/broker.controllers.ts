import { All, Controller, Inject, Req, Res, UseGuards, type Type } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ConfigStore } from '../../../config/config.store.js';
import { authorizationServerBaseUrl } from '../resource-server/public-urls.js';
import { publicRequestView, publicServerView, sendJson, sendNotFound } from './broker-http.js';
import { BrokerMetrics } from './broker-metrics.js';
import { AS_METADATA_PATHS, REGISTER_PATH, REGISTRATION_GONE, authorizationServerMetadata } from './broker-metadata.js';
import { BrokerThrottlerGuard } from './broker-throttler.guard.js';
import { BrokerService } from './broker.service.js';
import { CONSENT_PATH } from './consent.js';

/**
 * The broker's metadata (six Go paths, any method) and the `/oauth/register` tombstone (410, Go's exact body).
 * Registered only with `oauth.enabled` and `oauth.broker` on at boot (both restart-only).
 */
@Controller()
@UseGuards(BrokerThrottlerGuard)
export class BrokerMetadataController {
  constructor(
    private readonly config: ConfigStore,
    private readonly metrics: BrokerMetrics,
  ) {}

  @All([...AS_METADATA_PATHS])
  metadata(@Req() req: Request, @Res() res: Response): void {
    const config = this.config.current;
    const base = authorizationServerBaseUrl(publicRequestView(req), publicServerView(config), config.server.oauth);
    this.metrics.record('metadata', 'ok');
    sendJson(res, 200, authorizationServerMetadata(base, config.server.oauth), { 'Cache-Control': 'public, max-age=300' });
  }

  @All(REGISTER_PATH)
  register(@Req() _req: Request, @Res() res: Response): void {
    this.metrics.record('register', 'gone');
    sendJson(res, 410, REGISTRATION_GONE, { 'Cache-Control': 'no-store' });
  }
}

/**
 * authorize / callback / token on both the configured and Go's default paths (`authorization_path` & co. are read
 * at boot, as Go builds its mux once), and the consent form's POST target. Method checks happen in the handlers,
 * so a wrong method gets Go's JSON error rather than the MCP catch-all.
 */
export function createBrokerEndpointsController(paths: { authorize: string[]; callback: string[]; token: string[] }): Type {
  @Controller()
  @UseGuards(BrokerThrottlerGuard)
  class BrokerEndpointsController {
    constructor(@Inject(BrokerService) private readonly broker: BrokerService) {}

    @All(paths.authorize)
    authorize(@Req() req: Request, @Res() res: Response): Promise<void> {
      return this.broker.authorize(req, res);
    }

    @All(CONSENT_PATH)
    consent(@Req() req: Request, @Res() res: Response): Promise<void> {
      return this.broker.consent(req, res);
    }

    @All(paths.callback)
    callback(@Req() req: Request, @Res() res: Response): Promise<void> {
      return this.broker.callback(req, res);
    }

    @All(paths.token)
    token(@Req() req: Request, @Res() res: Response): Promise<void> {
      return this.broker.token(req, res);
    }
  }
  return BrokerEndpointsController;
}
