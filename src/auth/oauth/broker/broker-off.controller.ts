import { All, Controller, Res } from '@nestjs/common';
import type { Response } from 'express';
import { sendNotFound } from './broker-http.js';
import { AS_METADATA_PATHS, CONSENT_PATH, DEFAULT_AUTHORIZATION_PATH, DEFAULT_CALLBACK_PATH, DEFAULT_TOKEN_PATH, REGISTER_PATH } from './broker-paths.js';

/**
 * With OAuth or the broker off (restart-only), the broker's default paths answer Go's plain `404 page not found`
 * instead of falling through to the MCP catch-all.
 */
@Controller()
export class BrokerOffController {
  @All([...AS_METADATA_PATHS, REGISTER_PATH, DEFAULT_AUTHORIZATION_PATH, DEFAULT_CALLBACK_PATH, DEFAULT_TOKEN_PATH, CONSENT_PATH])
  notFound(@Res() res: Response): void {
    sendNotFound(res);
  }
}
