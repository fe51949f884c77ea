import { plainToInstance } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, validate } from 'class-validator';

/**
 * The body of `POST /jwe-token-generator` (auth spec §1.6 fields). Types are strict as Go's decoder is (an
 * integer field given `8123.5` or `"8123"` is refused); `null` or an absent field means the zero value, as
 * decoding into a Go struct gives; unknown fields are ignored.
 */
export class JweTokenRequest {
  @IsOptional() @IsString({ message: 'host must be a string' }) host?: string;
  @IsOptional() @IsInt({ message: 'port must be an integer' }) @Max(65535, { message: 'port must be at most 65535' }) port?: number;
  @IsOptional() @IsString({ message: 'database must be a string' }) database?: string;
  @IsOptional() @IsString({ message: 'username must be a string' }) username?: string;
  @IsOptional() @IsString({ message: 'password must be a string' }) password?: string;
  @IsOptional() @IsString({ message: 'protocol must be a string' }) protocol?: string;
  /** Seconds from now; 0 or absent means 3600. */
  @IsOptional() @IsInt({ message: 'expiry must be an integer' }) expiry?: number;
  @IsOptional() @IsInt({ message: 'limit must be an integer' }) limit?: number;
  @IsOptional() @IsBoolean({ message: 'tls_enabled must be a boolean' }) tls_enabled?: boolean;
  @IsOptional() @IsString({ message: 'tls_ca_cert must be a string' }) tls_ca_cert?: string;
  @IsOptional() @IsString({ message: 'tls_client_cert must be a string' }) tls_client_cert?: string;
  @IsOptional() @IsString({ message: 'tls_client_key must be a string' }) tls_client_key?: string;
  @IsOptional() @IsBoolean({ message: 'tls_insecure_skip_verify must be a boolean' }) tls_insecure_skip_verify?: boolean;
}

const FIELDS = [
  'host',
  'port',
  'database',
  'username',
  'password',
  'protocol',
  'expiry',
  'limit',
  'tls_enabled',
  'tls_ca_cert',
  'tls_client_cert',
  'tls_client_key',
  'tls_insecure_skip_verify',
] as const;

/**
 * Parses and validates a request body: exactly one JSON value, an object (or a lone `null`, which is an empty
 * request as in Go), fields of the right types. The error is a short text for the caller, never the body.
 */
export async function parseJweTokenRequest(body: Buffer): Promise<{ ok: true; value: JweTokenRequest } | { ok: false; message: string }> {
  let parsed: unknown;
  try {
    // JSON.parse takes exactly one value (surrounding whitespace allowed): `{}{}`, `{} null`, `{}!` all fail.
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, message: 'Invalid request body' };
  }
  if (parsed === null) parsed = {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, message: 'Invalid request body: a JSON object is required' };
  // Only the known fields are copied: unknown ones are ignored, and nothing like `__proto__` reaches the instance.
  const plain: Record<string, unknown> = {};
  for (const field of FIELDS) {
    if (Object.prototype.hasOwnProperty.call(parsed, field)) plain[field] = (parsed as Record<string, unknown>)[field];
  }
  const value = plainToInstance(JweTokenRequest, plain, { enableImplicitConversion: false });
  const errors = await validate(value, { forbidUnknownValues: false, validationError: { target: false, value: false } });
  if (errors.length > 0) {
    const first = errors[0]?.constraints ? Object.values(errors[0].constraints)[0] : undefined;
    return { ok: false, message: `Invalid request body: ${first ?? 'a field has the wrong type'}` };
  }
  return { ok: true, value };
}
