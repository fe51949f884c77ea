import { Global, Module } from '@nestjs/common';
import { RequestObservers } from './request-observers.js';

/** Global: lets any module observe finished requests (see `installHttpPipeline`). */
@Global()
@Module({
  providers: [RequestObservers],
  exports: [RequestObservers],
})
export class HttpPipelineModule {}
