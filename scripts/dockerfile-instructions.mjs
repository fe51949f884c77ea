/**
 * The Dockerfile's instructions, continuation lines joined as written, comments and blank lines dropped. Shared by
 * scripts/test-image-steps.mjs (which replays them) and test/image/image-steps.e2e-spec.ts (which checks the
 * replay against them); no side effects, so both can import it.
 */
export function dockerfileInstructions(text) {
  const out = [];
  let current = null;
  for (const line of text.split('\n')) {
    if (current === null && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    current = current === null ? line : `${current}\n${line}`;
    if (!line.endsWith('\\')) {
      out.push(current);
      current = null;
    }
  }
  return out;
}
