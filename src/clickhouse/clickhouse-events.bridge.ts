import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { QueryEvents } from '../common/events/query-events.js';
import { ShutdownHooks } from '../common/shutdown/shutdown-hooks.js';
import { ClickHouseService } from './clickhouse.service.js';

/**
 * Connects the data layer to the seams in `common/`, so that arrows point one way (metrics and graceful
 * shutdown never import the data layer): every ClickHouse call is published on QueryEvents, and a drain that
 * times out cancels the queries still running.
 */
@Injectable()
export class ClickHouseEventsBridge implements OnModuleDestroy {
  private readonly detach: Array<() => void>;

  constructor(clickhouse: ClickHouseService, events: QueryEvents, shutdown: ShutdownHooks) {
    this.detach = [clickhouse.onQuery((event) => events.publish(event)), shutdown.onDrainTimeout(() => clickhouse.cancelAll('shutdown'))];
  }

  onModuleDestroy(): void {
    for (const off of this.detach.splice(0)) off();
  }
}
