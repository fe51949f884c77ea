import type { ServerResponse } from 'node:http';
import { All, Controller, Req, Res } from '@nestjs/common';
import type { Request } from 'express';
import { ConfigStore } from '../../../config/config.store.js';
import { protectedResourceMetadata } from './protected-resource.js';
import { requestView, serverView } from './oauth-resource-server.service.js';

/**
 * RFC 9728 protected-resource metadata at `/.well-known/oauth-protected-resource` (altinity-mcp's exact route)
 * and the path-aware form `/.well-known/oauth-protected-resource/<resource path>` (§3.1, which MCP clients try
 * first for a resource with a path). Any method, as in Go; a plain `404 page not found` when OAuth is off.
 * Not an authenticated surface: a client reads it before it holds a token. AppModule imports this module before
 * McpModule, so these literal routes win over the MCP catch-all.
 */
@Controller()
export class ProtectedResourceController {
  constructor(private readonly config: ConfigStore) {}

  @All('.well-known/oauth-protected-resource')
  exact(@Req() req: Request, @Res() res: ServerResponse): void {
    this.serve(req, res);
  }

  @All('.well-known/oauth-protected-resource/{*resourcePath}')
  pathAware(@Req() req: Request, @Res() res: ServerResponse): void {
    this.serve(req, res);
  }

  private serve(req: Request, res: ServerResponse): void {
    const { server } = this.config.current;
    if (!server.oauth.enabled) {
      const body = '404 page not found\n';
      res.writeHead(404, {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    const body = JSON.stringify(protectedResourceMetadata(requestView(req), serverView(server), server.oauth));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}
