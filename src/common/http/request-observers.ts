import { Injectable } from '@nestjs/common';
import type { CompletedRequestObserver } from './request-log.middleware.js';

/**
 * Who wants to hear about finished HTTP requests (metrics). Kept here, in common, so that feature modules
 * register with the pipeline and the pipeline depends on none of them.
 */
@Injectable()
export class RequestObservers {
  private readonly list: CompletedRequestObserver[] = [];

  add(observer: CompletedRequestObserver): void {
    this.list.push(observer);
  }

  get all(): readonly CompletedRequestObserver[] {
    return this.list;
  }
}
