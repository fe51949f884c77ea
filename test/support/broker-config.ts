import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TestIdp } from './oidc-idp.js';

/**
 * A config file for a broker gateway in front of the test OIDC provider (`startTestIdp`): the upstream client,
 * endpoints and keys of `idp`, the given signing secret, no `/oauth/*` rate limit; `oauth` adds or overrides keys
 * (e.g. `consent`, public URLs, token lifetimes). Returns the file's path.
 */
export function writeBrokerConfig(idp: TestIdp, signingSecret: string, oauth: Record<string, unknown> = {}): string {
  const file = join(mkdtempSync(join(tmpdir(), 'broker-config-')), 'config.yaml');
  writeFileSync(
    file,
    stringify({
      server: {
        oauth: {
          enabled: true,
          broker: true,
          issuer: idp.issuer,
          jwks_url: idp.jwksUrl,
          client_id: idp.clientId,
          client_secret: idp.clientSecret,
          auth_url: idp.authUrl,
          token_url: idp.tokenUrl,
          userinfo_url: idp.userinfoUrl,
          scopes: ['openid', 'email'],
          signing_secret: signingSecret,
          requests_per_minute: 0,
          ...oauth,
        },
      },
    }),
  );
  return file;
}
