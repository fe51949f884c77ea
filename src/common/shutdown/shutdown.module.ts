import { Global, Module } from '@nestjs/common';
import { GracefulShutdown } from './graceful-shutdown.service.js';
import { ShutdownState } from './shutdown.state.js';

/** Global: readiness and the HTTP pipeline read ShutdownState; bootstrap runs GracefulShutdown on a signal. */
@Global()
@Module({
  providers: [ShutdownState, GracefulShutdown],
  exports: [ShutdownState, GracefulShutdown],
})
export class ShutdownModule {}
