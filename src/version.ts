import { readFileSync } from 'node:fs';

/** The package version, read once at start-up (shown by `version`, `/livez` and `/health`). */
export const GATEWAY_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'dev';
  } catch {
    return 'dev';
  }
})();
