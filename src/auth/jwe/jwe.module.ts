import { Module } from '@nestjs/common';
import { JweAuthenticator } from './jwe-authenticator.js';
import { JweAuthenticatorService } from './jwe-authenticator.service.js';

/**
 * The JWE core: verifies connection tokens and turns them into self-contained connections. The HTTP side
 * (routes, guard, generator) injects `JweAuthenticator` and never looks inside a token.
 */
@Module({
  providers: [JweAuthenticatorService, { provide: JweAuthenticator, useExisting: JweAuthenticatorService }],
  exports: [JweAuthenticator],
})
export class JweModule {}
