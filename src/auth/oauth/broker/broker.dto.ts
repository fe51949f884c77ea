import { plainToInstance } from 'class-transformer';
import { IsIn, IsOptional, IsString, Matches, MaxLength, validate } from 'class-validator';

/**
 * Inputs of the broker endpoints as class-validator DTOs. They bound what reaches the handlers (lengths, no
 * control characters); the OAuth checks themselves run afterwards in Go's order, with Go's error texts. Every
 * parameter is optional here: which are required, and in which order that is reported, is the handler's business.
 */

/** Room for a CIMD URL (2048), a long `state`, or a JWE code/refresh token wrapping a large upstream token. */
const URL_MAX = 2048;
const VALUE_MAX = 4096;
const TOKEN_MAX = 32 * 1024;
const NO_CONTROL_CHARS = /^[^\u0000-\u001f\u007f]*$/;
const CONTROL_MESSAGE = '$property must not contain control characters';

export class AuthorizeQuery {
  @IsOptional() @IsString() @MaxLength(URL_MAX) @Matches(NO_CONTROL_CHARS, { message: CONTROL_MESSAGE }) client_id?: string;
  @IsOptional() @IsString() @MaxLength(URL_MAX) @Matches(NO_CONTROL_CHARS, { message: CONTROL_MESSAGE }) redirect_uri?: string;
  @IsOptional() @IsString() @MaxLength(64) response_type?: string;
  @IsOptional() @IsString() @MaxLength(VALUE_MAX) state?: string;
  @IsOptional() @IsString() @MaxLength(VALUE_MAX) scope?: string;
  @IsOptional() @IsString() @MaxLength(256) code_challenge?: string;
  @IsOptional() @IsString() @MaxLength(64) code_challenge_method?: string;
  @IsOptional() @IsString() @MaxLength(URL_MAX) @Matches(NO_CONTROL_CHARS, { message: CONTROL_MESSAGE }) resource?: string;
}

export class CallbackQuery {
  @IsOptional() @IsString() @MaxLength(TOKEN_MAX) state?: string;
  @IsOptional() @IsString() @MaxLength(VALUE_MAX) code?: string;
  @IsOptional() @IsString() @MaxLength(256) error?: string;
  @IsOptional() @IsString() @MaxLength(VALUE_MAX) error_description?: string;
  @IsOptional() @IsString() @MaxLength(URL_MAX) iss?: string;
}

export class TokenForm {
  @IsOptional() @IsString() @MaxLength(128) grant_type?: string;
  @IsOptional() @IsString() @MaxLength(TOKEN_MAX) code?: string;
  @IsOptional() @IsString() @MaxLength(URL_MAX) @Matches(NO_CONTROL_CHARS, { message: CONTROL_MESSAGE }) redirect_uri?: string;
  @IsOptional() @IsString() @MaxLength(URL_MAX) @Matches(NO_CONTROL_CHARS, { message: CONTROL_MESSAGE }) client_id?: string;
  @IsOptional() @IsString() @MaxLength(256) code_verifier?: string;
  @IsOptional() @IsString() @MaxLength(URL_MAX) @Matches(NO_CONTROL_CHARS, { message: CONTROL_MESSAGE }) resource?: string;
  @IsOptional() @IsString() @MaxLength(VALUE_MAX) client_secret?: string;
  @IsOptional() @IsString() @MaxLength(16 * 1024) client_assertion?: string;
  @IsOptional() @IsString() @MaxLength(256) client_assertion_type?: string;
  @IsOptional() @IsString() @MaxLength(TOKEN_MAX) refresh_token?: string;
  @IsOptional() @IsString() @MaxLength(VALUE_MAX) scope?: string;
}

export class ConsentForm {
  @IsOptional() @IsString() @MaxLength(TOKEN_MAX) request?: string;
  @IsOptional() @IsString() @MaxLength(128) csrf?: string;
  @IsOptional() @IsIn(['approve', 'deny']) decision?: string;
}

export { AUTHORIZE_FIELDS, CALLBACK_FIELDS, CONSENT_FIELDS, TOKEN_FIELDS } from './broker-fields.js';

/** Validates the known fields of `values` (others are ignored); the first problem as a short text, or the DTO. */
export async function validateParams<T extends object>(
  dto: new () => T,
  values: Record<string, string>,
): Promise<{ ok: true; value: T } | { ok: false; message: string }> {
  const instance = plainToInstance(dto, values);
  const problems = await validate(instance, { forbidUnknownValues: false, stopAtFirstError: true });
  if (problems.length === 0) return { ok: true, value: instance };
  const first = problems[0]!;
  const message = Object.values(first.constraints ?? {})[0] ?? `${first.property} is invalid`;
  return { ok: false, message };
}
