import { Module } from '@nestjs/common';
import { ClickHouseEventsBridge } from './clickhouse-events.bridge.js';
import { ClickHouseService } from './clickhouse.service.js';

/**
 * The data layer: ClickHouseService is the only thing in the gateway that talks to ClickHouse. It needs the
 * global ConfigModule (ConfigStore) and LoggingModule (ROOT_LOGGER); it imports nothing protocol-related.
 */
@Module({
  providers: [ClickHouseService, ClickHouseEventsBridge],
  exports: [ClickHouseService],
})
export class ClickHouseModule {}
