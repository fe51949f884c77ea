import { SetMetadata } from '@nestjs/common';

/** Metadata key: answer a refused request with plain text (Go `http.Error` style) instead of a JSON-RPC error. */
export const RATE_LIMIT_TEXT_BODY = 'gateway:rate-limit-text-body';

/** Marks a controller whose errors are plain text (the OpenAPI routes), so its 429 is plain text too. */
export const RateLimitTextBody = (): ClassDecorator & MethodDecorator => SetMetadata(RATE_LIMIT_TEXT_BODY, true);
