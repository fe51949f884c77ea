import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JweGeneratorController } from './jwe-generator.controller.js';
import { JweModule } from './jwe.module.js';
import { JweGuard } from './jwe.guard.js';

/**
 * The HTTP side of JWE: the global guard that authenticates the MCP and OpenAPI surfaces (a no-op with JWE
 * off) and `POST /jwe-token-generator` (404 unless enabled). AppModule imports it before the rate limiter, so
 * this guard runs first and a token's identity is its rate-limit budget, and before McpModule, so the literal
 * generator path wins over `/{token}`.
 */
@Module({
  imports: [JweModule],
  controllers: [JweGeneratorController],
  providers: [{ provide: APP_GUARD, useClass: JweGuard }],
})
export class JweHttpModule {}
