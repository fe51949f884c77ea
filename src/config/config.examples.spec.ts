import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './config.cli.js';
import { loadConfig } from './config.loader.js';

const DIR = fileURLToPath(new URL('../../config/', import.meta.url));

describe('the example files in config/', () => {
  const files = readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));

  it('exist', () => expect(files.length).toBeGreaterThanOrEqual(3));

  it.each(files)('%s loads without errors or warnings', (file) => {
    const loaded = loadConfig({ args: parseArgs(['--config', `${DIR}${file}`]), env: {} });
    expect(loaded.warnings).toEqual([]);
  });
});
