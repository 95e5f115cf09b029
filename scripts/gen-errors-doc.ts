// Writes docs/errors.md, the error reference, from the one registry (src/shared/errors.ts):
//   npm run gen:errors
// Sections follow the registry's `// --- <section>` comments. A unit test
// (test/unit/shared/errors-doc.test.ts) fails when the registry changed and this was not re-run.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRORS, errorCode, type ErrorName } from '../src/shared/errors.js';

export const ERRORS_SOURCE = fileURLToPath(new URL('../src/shared/errors.ts', import.meta.url));
export const ERRORS_DOC = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

type Registry = Record<string, { http: number; message: string; hint: string }>;

/** Section titles and the names under each, in the order the registry source lists them. */
function sections(source: string, names: string[]): Array<{ title: string; names: string[] }> {
  const out: Array<{ title: string; names: string[] }> = [];
  let current = { title: 'general', names: [] as string[] };
  const seen = new Set<string>();
  for (const line of source.split('\n')) {
    const head = /^ {2}\/\/ --- (.+)$/.exec(line);
    if (head) {
      if (current.names.length) out.push(current);
      current = { title: head[1]!.trim(), names: [] };
      continue;
    }
    const key = /^ {2}([A-Z][A-Z0-9_]*): spec\(/.exec(line)?.[1];
    if (key && names.includes(key) && !seen.has(key)) {
      current.names.push(key);
      seen.add(key);
    }
  }
  if (current.names.length) out.push(current);
  // Anything the line scan missed (an unusual layout) still gets documented.
  const rest = names.filter((n) => !seen.has(n));
  if (rest.length) out.push({ title: 'other', names: rest });
  return out;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderErrorsDoc(registry: Registry = ERRORS, source = readFileSync(ERRORS_SOURCE, 'utf8')): string {
  const lines = [
    '# Error reference',
    '',
    '<!-- Generated from src/shared/errors.ts by `npm run gen:errors`. Do not edit by hand. -->',
    '',
    'Every error Outpost raises on purpose carries a stable code (`OUTPOST_ERR_<NAME>`), a message',
    "and a hint saying what to do next. The API puts them in a GraphQL error's `extensions`",
    '(`code`, `hint`, `http`); the CLI prints `CODE: message` and `→ hint` (`--json`: the same fields).',
    'A message may be followed by `: <detail>` naming the specific limit, job or field.',
    '',
  ];
  for (const { title, names } of sections(source, Object.keys(registry))) {
    lines.push(`## ${title[0]!.toUpperCase()}${title.slice(1)}`, '', '| Code | HTTP | Message | What to do |');
    lines.push('| --- | --- | --- | --- |');
    for (const name of names) {
      const e = registry[name]!;
      lines.push(`| \`${errorCode(name as ErrorName)}\` | ${e.http} | ${cell(e.message)} | ${cell(e.hint)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ERRORS_DOC, renderErrorsDoc());
  console.log(`wrote ${ERRORS_DOC} (${Object.keys(ERRORS).length} codes)`);
}
