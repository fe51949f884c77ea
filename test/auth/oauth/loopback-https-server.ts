import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test support (not used by the service): a real HTTPS listener on 127.0.0.1 with a fresh self-signed
 * certificate for the given DNS names, so the SSRF-safe fetcher is exercised through TLS, SNI and Host exactly
 * as in production, with a stub resolver mapping the names to loopback.
 */
export interface LoopbackHttpsServer {
  readonly port: number;
  readonly certificatePem: string;
  /** Every request seen: the Host header, the SNI name and the path. */
  readonly requests: Array<{ host: string | undefined; servername: string | undefined; path: string }>;
  setHandler(handler: (request: IncomingMessage, response: ServerResponse) => void): void;
  close(): Promise<void>;
}

export async function startLoopbackHttpsServer(dnsNames: readonly string[]): Promise<LoopbackHttpsServer> {
  const directory = mkdtempSync(join(tmpdir(), 'ssrf-tls-'));
  try {
    const keyPath = join(directory, 'key.pem');
    const certPath = join(directory, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${dnsNames[0]}`,
        '-addext', `subjectAltName=${dnsNames.map((name) => `DNS:${name}`).join(',')}`,
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(keyPath, 'utf8');
    const certificatePem = readFileSync(certPath, 'utf8');
    const requests: LoopbackHttpsServer['requests'] = [];
    let handler: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => {
      response.writeHead(404).end();
    };
    const server: Server = createServer({ key, cert: certificatePem }, (request, response) => {
      const socket = request.socket as IncomingMessage['socket'] & { servername?: string | false };
      requests.push({
        host: request.headers.host,
        servername: socket.servername || undefined,
        path: request.url ?? '',
      });
      handler(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      certificatePem,
      requests,
      setHandler: (next) => {
        handler = next;
      },
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
