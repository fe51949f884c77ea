import { Module } from '@nestjs/common';
import { EventsModule } from '../common/events/events.module.js';
import { ClickHouseEventsBridge } from './clickhouse-events.bridge.js';
import { ClickHouseService } from './clickhouse.service.js';
import { sqlPolicyGuardProvider } from './sql-policy.guard.js';

/**
 * The data layer: ClickHouseService is the only thing in the gateway that talks to ClickHouse. It needs the
 * global ConfigModule (ConfigService) and LoggingModule (ROOT_LOGGER); it imports nothing protocol-related.
 */
@Module({
  // The bridge publishes on common's seams; importing them here keeps the module usable on its own (tests).
  imports: [EventsModule],
  providers: [ClickHouseService, ClickHouseEventsBridge, sqlPolicyGuardProvider],
  exports: [ClickHouseService],
})
export class ClickHouseModule {}
