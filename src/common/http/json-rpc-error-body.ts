/**
 * The JSON body of an HTTP-level error, in JSON-RPC form so MCP clients can show it. Neutral ground: both
 * the MCP transport and the rate limiter answer with it, and the rate limiter must not depend on `src/mcp/`.
 */
export function jsonRpcErrorBody(code: number, message: string, id: string | number | null = null): string {
  return JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id });
}
