import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

/**
 * A JSON-RPC error whose wire `message` is exactly the text given. The SDK's `McpError` prefixes its message
 * with `MCP error <code>: `, and the SDK puts `error.message` on the wire as it is, so altinity-mcp's texts
 * (`unknown tool "x"`) would go out as `MCP error -32602: unknown tool "x"`.
 */
export class JsonRpcError extends Error {
  override readonly name = 'JsonRpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** `-32602 Invalid params` with the given text. */
export const invalidParams = (message: string): JsonRpcError => new JsonRpcError(ErrorCode.InvalidParams, message);

interface SchemaIssue {
  path?: ReadonlyArray<PropertyKey>;
  message?: string;
}

/**
 * The SDK validates request params with zod before any handler runs and lets the ZodError escape, which the
 * protocol layer answers as `-32603 Internal error` with the issues dumped as JSON. A client that sent bad
 * params deserves `-32602` and one readable line: `Invalid params: params.uri: expected string, received number`.
 */
export function fromSchemaError(err: unknown): JsonRpcError | undefined {
  const issues = (err as { issues?: unknown })?.issues;
  if (!(err instanceof Error) || !/^\$?ZodError$/.test(err.name) || !Array.isArray(issues)) return undefined;
  const parts = (issues as SchemaIssue[]).slice(0, 5).map((issue) => {
    const path = (issue.path ?? []).map(String).join('.');
    const text = String(issue.message ?? 'invalid').replace(/^Invalid input: /, '');
    return path ? `${path}: ${text}` : text;
  });
  return invalidParams(`Invalid params: ${parts.join('; ')}`);
}
