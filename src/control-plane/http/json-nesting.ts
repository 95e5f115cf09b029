// How deeply a JSON text's arrays and objects nest, read from its bytes without building
// anything. JSON.parse of a body nested a million deep runs for seconds on the event loop (5.2 s
// of CPU for a 15 MiB user-API body, every other request waiting, measured) before any depth
// check can see the value it returns: the user API refuses such a body before parsing it.

/** The deepest `[`/`{` nesting in the JSON text `bytes` (UTF-8); stops counting once past `stopAt`. */
export function jsonNesting(bytes: Uint8Array, stopAt: number): number {
  let depth = 0;
  let max = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === 0x22 /* " */) {
      // A string: to its closing quote, stepping over escapes (no byte of a multi-byte UTF-8
      // character is a quote or a backslash).
      for (i++; i < n && bytes[i] !== 0x22; i++) if (bytes[i] === 0x5c /* \ */) i++;
    } else if (c === 0x5b || c === 0x7b /* [ { */) {
      if (++depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (c === 0x5d || c === 0x7d /* ] } */) {
      depth--;
    }
  }
  return max;
}
