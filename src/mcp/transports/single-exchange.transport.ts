import type { ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

// No `Connection` header of our own: Node sends `keep-alive` when the connection may stay open and `close` when
// the client asked for it (or the server is draining). An explicit `keep-alive` here would override both and
// leave HTTP/1.0 and `Connection: close` clients waiting for the keep-alive timeout before the body ends.
const SSE_HEADERS = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' };

/**
 * A stateless streamable-HTTP exchange: exactly one JSON-RPC message in, its answer out, written straight to
 * the Node response as a `text/event-stream` (as altinity-mcp answers). Server notifications emitted while the
 * request runs (logging, progress) go out as earlier events of the same stream. Nothing outlives the request.
 *
 * This replaces the SDK's Node wrapper on the hot path: that one converts every request to a web-standard
 * Request/Response pair and back, which costs more than the rest of a small tool call.
 */
export class SingleExchangeTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private headersSent = false;
  private closed = false;
  private settle!: () => void;
  /** Resolves once the answer to the request has been written (or the exchange was closed). */
  readonly done: Promise<void> = new Promise((resolve) => (this.settle = resolve));

  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: string | number,
  ) {}

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    const isAnswer = 'id' in message && message.id === this.requestId && ('result' in message || 'error' in message);
    if (this.res.writableEnded || this.res.destroyed) {
      // The client went away before the answer: nobody to write to, but the exchange is over all the same
      // (without this, `done` never settles and the request's server, context and bookkeeping leak).
      if (isAnswer) await this.close();
      return;
    }
    const event = `event: message\ndata: ${JSON.stringify(message)}\n\n`;
    if (isAnswer && !this.headersSent) {
      // The common case: no notification came first, so headers and the one event go out in a single write.
      this.res.writeHead(200, SSE_HEADERS);
      this.headersSent = true;
      this.res.end(event);
      await this.close();
      return;
    }
    if (!this.headersSent) {
      this.res.writeHead(200, SSE_HEADERS);
      this.headersSent = true;
    }
    this.res.write(event);
    if (isAnswer) {
      this.res.end();
      await this.close();
    }
  }

  /** Hands the request to the connected MCP server. */
  deliver(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.settle();
    this.onclose?.();
  }
}
