// A small JSON Schema checker for the launch form, so config mistakes show as you type.
// It covers what job config schemas use (types, properties, required, additionalProperties,
// enum/const, bounds, lengths, pattern, items, anyOf/oneOf); the server validates fully.

const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function matchesType(v, t) {
  if (t === 'integer') return typeof v === 'number' && Number.isInteger(v);
  if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeOf(v) === t;
}

const at = (path) => (path === '' ? '(root)' : path);

/**
 * @returns {Array<{path: string, message: string}>} empty when `value` satisfies `schema`.
 */
export function validate(schema, value, path = '', depth = 0) {
  if (!schema || typeof schema !== 'object' || depth > 32) return [];
  const errs = [];
  const push = (message) => errs.push({ path: at(path), message });
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(value, t))) {
      push(`must be ${types.join(' or ')}, got ${typeOf(value)}`);
      return errs;
    }
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value))
    push(`must equal ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    push(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) push(`must be >= ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) push(`must be <= ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum)
      push(`must be > ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum)
      push(`must be < ${schema.exclusiveMaximum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength)
      push(`must have at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength)
      push(`must have at most ${schema.maxLength} characters`);
    if (typeof schema.pattern === 'string') {
      try {
        if (!new RegExp(schema.pattern, 'u').test(value)) push(`must match /${schema.pattern}/`);
      } catch {
        /* a pattern the browser cannot compile is left to the server */
      }
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      push(`must have at least ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems)
      push(`must have at most ${schema.maxItems} items`);
    if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) {
      value.forEach((item, i) => errs.push(...validate(schema.items, item, `${path}[${i}]`, depth + 1)));
    }
  }
  if (typeOf(value) === 'object') {
    const props = schema.properties ?? {};
    for (const key of schema.required ?? []) {
      if (!(key in value)) errs.push({ path: at(path), message: `missing required property "${key}"` });
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = `${path}${path ? '.' : ''}${key}`;
      if (key in props) errs.push(...validate(props[key], v, sub, depth + 1));
      else if (schema.additionalProperties === false)
        errs.push({ path: at(path), message: `unknown property "${key}"` });
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        errs.push(...validate(schema.additionalProperties, v, sub, depth + 1));
      }
    }
  }
  for (const key of ['anyOf', 'oneOf']) {
    if (!Array.isArray(schema[key])) continue;
    const passing = schema[key].filter((s) => validate(s, value, path, depth + 1).length === 0).length;
    if (passing === 0) push(`must match ${key === 'anyOf' ? 'at least one' : 'exactly one'} of the allowed shapes`);
    else if (key === 'oneOf' && passing > 1) push('matches more than one of the allowed shapes');
  }
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf) errs.push(...validate(s, value, path, depth + 1));
  return errs;
}

/** A starting config: defaults where the schema gives them, required fields otherwise. */
export function exampleFor(schema) {
  return example(schema, false, 0);
}

/**
 * A starting config of the required fields only. For Dagster's converted schemas: Dagster
 * applies its own defaults, and its system sections (execution, resources, loggers) carry
 * defaults that would fill the editor with settings nobody chose.
 */
export function requiredExampleFor(schema) {
  return example(schema, true, 0);
}

function example(schema, requiredOnly, depth) {
  if (!schema || typeof schema !== 'object' || depth > 16) return {};
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'object' || (type === undefined && schema.properties)) {
    const out = {};
    const required = new Set(schema.required ?? []);
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (required.has(k) || (!requiredOnly && s && s.default !== undefined))
        out[k] = example(s, requiredOnly, depth + 1);
    }
    return out;
  }
  if (type === 'array') return [];
  if (type === 'string') return '';
  if (type === 'integer' || type === 'number') return typeof schema.minimum === 'number' ? schema.minimum : 0;
  if (type === 'boolean') return false;
  return {};
}
