import { isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export type ParsedMessage =
  | { ok: true; message: JSONRPCMessage; id?: string | number }
  | { ok: false; status: number; code: number; message: string; id?: string | number | null };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one JSON-RPC 2.0 message from a request body, refusing what MCP does not allow over stateless
 * HTTP: invalid UTF-8 or JSON, batches (removed from the protocol in 2025-06-18), and malformed envelopes.
 */
export function parseJsonRpcBody(body: Buffer): ParsedMessage {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, status: 400, code: PARSE_ERROR, message: 'Parse error: the body is not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof RangeError ? 'nested too deeply' : 'invalid JSON';
    return { ok: false, status: 400, code: PARSE_ERROR, message: `Parse error: ${detail}` };
  }
  if (Array.isArray(value)) {
    return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: JSON-RPC batches are not supported; send one message per request' };
  }
  if (value === null || typeof value !== 'object') {
    return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: expected a JSON-RPC 2.0 object' };
  }
  const msg = value as Record<string, unknown>;
  const id = msg.id;
  const idOk = id === undefined || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  const safeId = idOk && id !== undefined ? (id as string | number) : null;
  if (msg.jsonrpc !== '2.0') {
    return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: "jsonrpc" must be "2.0"', id: safeId };
  }
  if (!idOk) {
    return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: "id" must be a string or a number', id: null };
  }
  if ('method' in msg) {
    if (typeof msg.method !== 'string' || msg.method === '') {
      return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: "method" must be a non-empty string', id: safeId };
    }
    if (msg.params !== undefined && (msg.params === null || typeof msg.params !== 'object' || Array.isArray(msg.params))) {
      return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: "params" must be an object', id: safeId };
    }
    // The SDK ignores a request its own schema refuses (it only reports it through onerror) and never answers
    // it, which would leave the HTTP exchange open until the client gives up. Refuse such requests here.
    if (id !== undefined && !isJSONRPCRequest(msg)) {
      return { ok: false, status: 400, code: INVALID_REQUEST, message: requestSchemaProblem(msg), id: safeId };
    }
    return { ok: true, message: msg as unknown as JSONRPCMessage, id: id as string | number | undefined };
  }
  if (id !== undefined && ('result' in msg || 'error' in msg)) {
    return { ok: true, message: msg as unknown as JSONRPCMessage, id: id as string | number };
  }
  return { ok: false, status: 400, code: INVALID_REQUEST, message: 'Invalid Request: expected a request, notification or response', id: safeId };
}

const REQUEST_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);

/** Why a request with a valid envelope still fails the SDK's request schema (the first reason found). */
function requestSchemaProblem(msg: Record<string, unknown>): string {
  if (typeof msg.id === 'number' && !Number.isSafeInteger(msg.id)) return 'Invalid Request: a numeric "id" must be an integer';
  const extra = Object.keys(msg).find((k) => !REQUEST_MEMBERS.has(k));
  if (extra !== undefined) return `Invalid Request: unexpected member ${JSON.stringify(extra.slice(0, 64))}`;
  return 'Invalid Request: malformed "params" (e.g. "params._meta")';
}

export { jsonRpcErrorBody } from '../../common/http/json-rpc-error-body.js';
