import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveTlsMaterialPath } from './tls-material.js';

// Upstream §B.4 "Allowlist paths": R = <tmp>/allowed with ca.pem, a sibling directory, and three symlinks.
describe('resolveTlsMaterialPath (server.jwe.tls_material_dir)', () => {
  let tmp: string;
  let root: string;
  let realCa: string;
  beforeAll(() => {
    tmp = realpathSync(mkdtempSync(join(tmpdir(), 'jwe-tls-')));
    root = join(tmp, 'allowed');
    mkdirSync(root);
    mkdirSync(join(tmp, 'allowed-sibling'));
    writeFileSync(join(root, 'ca.pem'), 'ca');
    writeFileSync(join(tmp, 'allowed-sibling', 'ca.pem'), 'sibling');
    writeFileSync(join(tmp, 'outside.pem'), 'outside');
    symlinkSync(join(tmp, 'outside.pem'), join(root, 'escape.pem'));
    symlinkSync(join(tmp, 'allowed-sibling'), join(root, 'escape-dir'));
    symlinkSync(join(root, 'ca.pem'), join(root, 'inside.pem'));
    symlinkSync(root, join(tmp, 'allowed-link'));
    realCa = join(root, 'ca.pem');
  });

  it('refuses every escape', () => {
    for (const path of [
      join(tmp, 'outside.pem'),
      join(tmp, 'allowed-sibling', 'ca.pem'), // the prefix trick: "allowed-sibling" starts with "allowed"
      `${root}/../outside.pem`,
      `${root}/sub/../ca.pem`,
      'ca.pem',
      join(root, 'escape.pem'),
      join(root, 'escape-dir', 'ca.pem'),
      join(root, 'missing.pem'),
      root,
      '/etc/passwd',
    ]) {
      expect(resolveTlsMaterialPath(root, path), path).toBeUndefined();
    }
  });

  it('accepts files inside, returning the real path (also through an inside symlink)', () => {
    expect(resolveTlsMaterialPath(root, join(root, 'ca.pem'))).toBe(realCa);
    expect(resolveTlsMaterialPath(root, join(root, 'inside.pem'))).toBe(realCa);
  });

  it('with no allowlist every non-empty path is refused; an empty path means none', () => {
    expect(resolveTlsMaterialPath('', join(root, 'ca.pem'))).toBeUndefined();
    expect(resolveTlsMaterialPath('', '')).toBe('');
    expect(resolveTlsMaterialPath(root, '')).toBe('');
  });

  it('a root that is itself a symlink works, and still contains escapes', () => {
    const link = join(tmp, 'allowed-link');
    expect(resolveTlsMaterialPath(link, join(link, 'ca.pem'))).toBe(realCa);
    expect(resolveTlsMaterialPath(link, join(link, 'escape.pem'))).toBeUndefined();
  });
});
