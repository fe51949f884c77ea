import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { IsNotEmpty, IsString } from 'class-validator';

/** The query string of `GET /openapi/execute_query`. */
export class ExecuteQueryParams {
  @IsString({ message: 'Query parameter is required' })
  @IsNotEmpty({ message: 'Query parameter is required' })
  query!: string;
}

/** A validation failure carrying the exact upstream text (no Nest JSON envelope). */
export class OpenApiInputError extends BadRequestException {
  constructor(readonly text: string) {
    super(text);
  }
}

/**
 * Nest's ValidationPipe for the OpenAPI inputs, answering with upstream's text: the first constraint message
 * of the first failing property (`Query parameter is required`). Unknown query parameters are allowed (they
 * carry settings, as in Go).
 */
export const openApiValidationPipe = new ValidationPipe({
  transform: true,
  whitelist: false,
  forbidUnknownValues: false,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => {
    const first = errors[0];
    const message = first?.constraints ? Object.values(first.constraints)[0] : undefined;
    return new OpenApiInputError(message ?? 'Invalid request');
  },
});

/** Validates the `execute_query` query string; the decoded parameters, or the upstream error text. */
export async function validateExecuteQueryParams(params: URLSearchParams): Promise<{ ok: true; value: ExecuteQueryParams } | { ok: false; message: string }> {
  const plain: Record<string, unknown> = {};
  const query = params.get('query');
  if (query !== null) plain.query = query;
  try {
    const value = (await openApiValidationPipe.transform(plain, { type: 'query', metatype: ExecuteQueryParams })) as ExecuteQueryParams;
    return { ok: true, value };
  } catch (err) {
    if (err instanceof OpenApiInputError) return { ok: false, message: err.text };
    throw err;
  }
}
