import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** The one text for every refused path: it never says which rule failed, nor echoes the path (upstream §B.2). */
export const INVALID_TLS_MATERIAL_PATH = 'jwe: invalid TLS material path';

/** `child` lies strictly inside `dir` (the directory itself does not count); both already absolute and normalised. */
function strictlyInside(dir: string, child: string): boolean {
  const rel = relative(dir, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Checks a TLS file path a token names against `server.jwe.tls_material_dir` (upstream §B.2 steps 1–5) and
 * returns the resolved real path to open, or undefined when the path must be refused. An empty path means
 * "no file" and is returned as "". A token can thus only make the gateway read files an operator put in that
 * one directory, never `/etc/passwd` or a symlink pointing out of it.
 */
export function resolveTlsMaterialPath(materialDir: string, path: string): string | undefined {
  if (path === '') return '';
  // 1. An allowlist must exist and the path be absolute.
  if (materialDir === '' || !isAbsolute(path) || path.includes('\0') || materialDir.includes('\0')) return undefined;
  // 2. No `..` segment at all, even one that would resolve inside.
  if (path.split(/[\\/]/).includes('..')) return undefined;
  // 3. Lexically inside the (absolutised) directory.
  const dir = resolve(materialDir);
  const lexical = resolve(path);
  if (!strictlyInside(dir, lexical)) return undefined;
  // 4. Still inside once symlinks are resolved on both sides; a missing file fails here.
  let realDir: string;
  let realPath: string;
  try {
    realDir = realpathSync(dir);
    realPath = realpathSync(lexical);
  } catch {
    return undefined;
  }
  if (!strictlyInside(realDir, realPath)) return undefined;
  // 5. The resolved path is what gets opened.
  return realPath;
}
