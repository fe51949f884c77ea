import { Global, Module } from '@nestjs/common';
import { ShutdownHooks } from '../shutdown/shutdown-hooks.js';
import { QueryEvents } from './query-events.js';

/**
 * Global seams that let the lower layers talk to the upper ones without importing them: the data layer
 * publishes {@link QueryEvents} and registers with {@link ShutdownHooks}; metrics and graceful shutdown
 * consume them. Nothing here imports a feature module.
 */
@Global()
@Module({
  providers: [QueryEvents, ShutdownHooks],
  exports: [QueryEvents, ShutdownHooks],
})
export class EventsModule {}
