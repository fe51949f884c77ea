import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REFERENCE_END, REFERENCE_START, renderConfigReference } from './config.reference.js';

describe('README configuration reference', () => {
  it('matches the field table in the code (run `npm run docs:config` after changing a key)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf(REFERENCE_START);
    const end = readme.indexOf(REFERENCE_END);
    expect(start, 'README.md lacks the config reference markers').toBeGreaterThan(0);
    expect(readme.slice(start + REFERENCE_START.length, end).trim()).toBe(renderConfigReference().trim());
  });
});
