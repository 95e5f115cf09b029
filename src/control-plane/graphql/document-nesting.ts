// How deeply a GraphQL document's brackets nest, read from its text without recursion.
// graphql-js parses recursively: a document nested a few thousand deep (selection sets, object
// or list literals) overflows the stack inside parse, under any token limit, before the depth
// and JSON-depth checks ever see an AST. Strings, block strings and comments are skipped.

/** The deepest `{`/`[`/`(` nesting in `source`; stops counting once past `stopAt`. */
export function documentNesting(source: string, stopAt: number): number {
  let depth = 0;
  let max = 0;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < n && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === 0x22 /* " */) {
      if (source.startsWith('"""', i)) {
        // Block string: ends at an unescaped """ (\""" is an escaped triple quote).
        i += 3;
        while (i < n && !source.startsWith('"""', i)) i += source.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < n && source[i] !== '"' && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      }
    } else if (c === 0x7b || c === 0x5b || c === 0x28 /* { [ ( */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (c === 0x7d || c === 0x5d || c === 0x29 /* } ] ) */) {
      depth--;
    }
  }
  return max;
}
