// Run config is validated strictly: an object schema that does not say what to do with keys
// it does not list rejects them (as if `additionalProperties: false`), so a typo in a config
// key fails at launch instead of being silently ignored by the run. A schema that allows
// extra keys on purpose says so (`additionalProperties`, `patternProperties`,
// `unevaluatedProperties`) and is left as it is. Pure: returns a new schema.

type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keywords whose value is one subschema. */
const ONE = ['items', 'additionalItems', 'contains', 'not', 'if', 'then', 'else', 'propertyNames'] as const;
/** Keywords whose value is a map of subschemas. */
const MAP = ['properties', '$defs', 'definitions', 'dependentSchemas'] as const;
/** Alternatives: each branch is a whole value, so each is strict on its own. */
const ALTERNATIVES = ['anyOf', 'oneOf', 'prefixItems'] as const;

const OPEN_KEYWORDS = ['additionalProperties', 'patternProperties', 'unevaluatedProperties'] as const;

function describesObject(s: Schema): boolean {
  return s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object')) || isObject(s.properties);
}

/**
 * The strict form of a job's config schema. An empty schema (a job that declares no config)
 * becomes "an object with no keys". Members of `allOf` are not closed one by one (each sees
 * only part of the keys); the object holding the `allOf` is closed with `unevaluatedProperties`.
 */
export function strictConfigSchema(schema: Schema): Schema {
  if (Object.keys(schema).filter((k) => k !== '$schema').length === 0) {
    return { type: 'object', additionalProperties: false };
  }
  return close(schema, true);
}

function close(s: Schema, closeHere: boolean, depth = 0): Schema {
  if (depth > 64) return s; // far deeper than any config schema; never recurse without bound
  const out: Schema = { ...s };
  for (const k of ONE) if (isObject(s[k])) out[k] = close(s[k], true, depth + 1);
  for (const k of MAP) {
    const m = s[k];
    if (isObject(m)) {
      out[k] = Object.fromEntries(
        Object.entries(m).map(([name, sub]) => [name, isObject(sub) ? close(sub, true, depth + 1) : sub]),
      );
    }
  }
  for (const k of ALTERNATIVES) {
    const list = s[k];
    if (Array.isArray(list))
      out[k] = (list as unknown[]).map((sub) => (isObject(sub) ? close(sub, true, depth + 1) : sub));
  }
  const all = s.allOf;
  if (Array.isArray(all))
    out.allOf = (all as unknown[]).map((sub) => (isObject(sub) ? close(sub, false, depth + 1) : sub));
  const open = OPEN_KEYWORDS.some((k) => k in s);
  if (closeHere && !open && describesObject(s)) {
    if (Array.isArray(all)) out.unevaluatedProperties = false;
    else out.additionalProperties = false;
  }
  return out;
}
