import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_FIELDS, EXTRA_FLAGS, type FieldSpec } from './config.fields.js';
import { formatDuration } from './duration.js';

export const REFERENCE_START = '<!-- config-reference:start (generated from src/config/config.fields.ts by `npm run docs:config`) -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

function showDefault(field: FieldSpec): string {
  const d = field.default;
  if (field.kind === 'duration') return `\`${formatDuration(d as number)}\``;
  if (Array.isArray(d)) return d.length ? `\`${d.join(',')}\`` : '`[]`';
  if (d !== null && typeof d === 'object') return '`{}`';
  if (d === '') return '`""`';
  return `\`${String(d)}\``;
}

const KIND: Record<FieldSpec['kind'], string> = {
  string: 'string',
  secret: 'string (secret)',
  int: 'integer',
  bool: 'bool',
  enum: 'enum',
  list: 'list',
  map: 'map',
  duration: 'duration',
  tools: 'list of rules',
  dynamic_tools: 'list of rules',
};

/** The configuration reference as a Markdown table: one row per key, in file order. */
export function renderConfigReference(): string {
  const rows = [
    '| YAML key | CLI flag | Env var | Type | Default | Reload | Meaning |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const f of CONFIG_FIELDS) {
    const type = f.kind === 'enum' ? f.values!.map((v) => `\`${v}\``).join(' \\| ') : KIND[f.kind];
    const reload = f.restartOnly ? 'restart' : 'live';
    const note = f.reserved ? ' *(parsed and validated; the feature comes later)*' : '';
    rows.push(
      `| \`${f.path}\` | ${f.flag ? `\`--${f.flag}\`` : '—'} | ${f.env ? `\`${f.env}\`` : '—'} | ${type} | ${showDefault(f)} | ${reload} | ${f.doc.replace(/\|/g, '\\|')}${note} |`,
    );
  }
  rows.push('', '| Flag | Env var | Meaning |', '|---|---|---|');
  for (const f of Object.values(EXTRA_FLAGS)) rows.push(`| \`--${f.flag}\` | \`${f.env}\` | ${f.doc} |`);
  return rows.join('\n');
}

/** Replaces the generated block of a Markdown file. */
export function writeReferenceInto(path: string): void {
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(REFERENCE_START);
  const end = text.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error(`${path} has no config reference markers`);
  writeFileSync(path, `${text.slice(0, start + REFERENCE_START.length)}\n${renderConfigReference()}\n${text.slice(end)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeReferenceInto(process.argv[2] ?? 'README.md');
}
