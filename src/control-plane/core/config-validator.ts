// Run-config validation on the control plane's request path: a small JSON Schema 2020-12
// interpreter for the keywords config schemas use (what zod/v4 publishes, the Dagster config-type
// translation, hand-written schemas). Why not ajv here: ajv generates and compiles code per
// schema, and its first compile in a process also compiles the 2020-12 meta-schema; that stalled
// the single-threaded control plane for the first launch of every job. "Compiling" here is one
// walk over the schema that sorts its keywords: a keyword this module does not check is never
// skipped silently; the caller gets it back (`needsAjv` for standard keywords it leaves to ajv,
// `unknown` for keywords no JSON Schema draft defines, and for patterns that are no regex).
import { fullFormats } from 'ajv-formats/dist/formats.js';

type Schema = Record<string, unknown>;

/** One problem, ajv-shaped (`instancePath` is a JSON pointer into the run config). */
export interface ConfigProblem {
  instancePath: string;
  keyword: string;
  message: string;
  params?: Record<string, unknown>;
}

export type CompiledConfigSchema =
  | { kind: 'ok'; validate: (value: unknown) => ConfigProblem[] }
  | { kind: 'needsAjv'; keywords: string[] }
  | { kind: 'unknown'; keywords: string[] };

/** Keywords checked here. */
const CHECKED = new Set([
  ...['type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum'],
  ...['maxLength', 'minLength', 'pattern', 'format', 'maxItems', 'minItems', 'uniqueItems', 'maxContains'],
  ...['minContains', 'contains', 'maxProperties', 'minProperties', 'required', 'dependentRequired'],
  ...['properties', 'patternProperties', 'additionalProperties', 'propertyNames', 'items', 'prefixItems'],
  ...['allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas', '$ref', '$defs'],
  ...['definitions', 'unevaluatedProperties', 'nullable'],
]);
/** Annotations: they assert nothing (2020-12 §7.7, format aside, which is checked). */
const ANNOTATIONS = new Set([
  ...['$schema', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly'],
  ...['writeOnly', 'contentEncoding', 'contentMediaType', 'contentSchema', '$vocabulary'],
]);
/** Standard keywords (2020-12 or earlier drafts) left to ajv: rare in config schemas. */
const AJV_ONLY = new Set([
  ...['$id', '$anchor', '$dynamicRef', '$dynamicAnchor', '$recursiveRef', '$recursiveAnchor'],
  ...['unevaluatedItems', 'additionalItems', 'dependencies'],
]);

/** Keywords whose value is one subschema (other values, e.g. `required`'s, hold no keywords). */
const ONE_SUBSCHEMA = new Set([
  ...['items', 'contains', 'not', 'if', 'then', 'else', 'propertyNames', 'additionalProperties'],
  'unevaluatedProperties',
]);

type Format = RegExp | ((s: string) => boolean) | { type?: string; validate: RegExp | ((s: unknown) => boolean) };
const FORMATS = fullFormats as unknown as Record<string, Format>;

/** Sorts the schema's keywords; returns the validator when every one is checked here. */
export function compileConfigSchema(root: Schema): CompiledConfigSchema {
  const ajvOnly = new Set<string>();
  const unknown = new Set<string>();
  const regexps = new Map<string, RegExp>();
  /** Patterns are compiled up front: one that is not a valid regex is named, not thrown at launch. */
  const regex = (p: unknown, here: string) => {
    if (typeof p !== 'string' || regexps.has(p)) return;
    try {
      regexps.set(p, new RegExp(p, 'u'));
    } catch {
      unknown.add(`${here} (not a valid regular expression)`);
    }
  };
  const walk = (s: unknown, at: string, depth: number): void => {
    if (typeof s !== 'object' || s === null || Array.isArray(s) || depth > 64) return;
    for (const [k, v] of Object.entries(s as Schema)) {
      const here = `${at}/${k}`;
      if (k.startsWith('x-') || ANNOTATIONS.has(k)) continue;
      if (k === '$id' && at === '') continue; // the root's own id changes no $ref resolution here
      if (k === 'pattern') regex(v, here);
      if (k === 'patternProperties' && isObj(v)) for (const p of Object.keys(v)) regex(p, `${here}/${p}`);
      if (AJV_ONLY.has(k)) ajvOnly.add(here);
      else if (!CHECKED.has(k)) unknown.add(here);
      else if (k === '$ref' && (typeof v !== 'string' || !v.startsWith('#'))) ajvOnly.add(here);
      else if (k === 'items' && Array.isArray(v))
        ajvOnly.add(here); // draft-07 tuple form
      else if (['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'].includes(k)) {
        if (typeof v === 'object' && v !== null)
          for (const [n, sub] of Object.entries(v)) walk(sub, `${here}/${n}`, depth + 1);
      } else if (['allOf', 'anyOf', 'oneOf', 'prefixItems'].includes(k)) {
        if (Array.isArray(v)) v.forEach((sub, i) => walk(sub, `${here}/${i}`, depth + 1));
      } else if (ONE_SUBSCHEMA.has(k)) walk(v, here, depth + 1);
    }
  };
  walk(root, '', 0);
  if (unknown.size) return { kind: 'unknown', keywords: [...unknown] };
  if (ajvOnly.size) return { kind: 'needsAjv', keywords: [...ajvOnly] };
  const ctx: Ctx = {
    root,
    re: (p) => {
      let r = regexps.get(p);
      if (!r) regexps.set(p, (r = new RegExp(p, 'u')));
      return r;
    },
  };
  return {
    kind: 'ok',
    validate(value) {
      const out: ConfigProblem[] = [];
      check(ctx, root, value, '', out, undefined, 0);
      return out;
    },
  };
}

interface Ctx {
  root: Schema;
  re(pattern: string): RegExp;
}

const ptr = (at: string, key: string | number) => `${at}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => equal(x, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && equal((a as Schema)[k], (b as Schema)[k]));
}

function resolveRef(ctx: Ctx, ref: string): unknown {
  let node: unknown = ctx.root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObj(node) || Array.isArray(node) ? (node as Schema)[part] : undefined;
  }
  return node;
}

function checkFormat(name: string, v: unknown): boolean {
  const f = FORMATS[name];
  if (f === undefined) return true; // an unknown format is an annotation (2020-12 §7.2.1)
  const def: { type?: string; validate: RegExp | ((s: never) => boolean) } =
    f instanceof RegExp || typeof f === 'function' ? { validate: f } : f;
  if (!hasType(v, def.type ?? 'string')) return true;
  return def.validate instanceof RegExp ? def.validate.test(String(v)) : def.validate(v as never);
}

/**
 * Checks `v` against `s`, pushing problems to `out`; property names `s` evaluated go to
 * `seen` (for `unevaluatedProperties`). Returns whether `v` is valid.
 */
function check(
  ctx: Ctx,
  s: unknown,
  v: unknown,
  at: string,
  out: ConfigProblem[],
  seen: Set<string> | undefined,
  depth: number,
): boolean {
  if (s === true || s === undefined) return true;
  const start = out.length;
  const fail = (keyword: string, message: string, params?: Record<string, unknown>, path = at) =>
    out.push({ instancePath: path, keyword, message, ...(params ? { params } : {}) });
  if (s === false) return (fail('false schema', 'is not allowed'), false);
  if (!isObj(s)) return true;
  if (depth > 256) return (fail('$ref', 'nests too deeply (schema recursion)'), false);
  const own = new Set<string>();
  /** A subschema checked into a scratch list: applicators decide what its problems mean. */
  const sub = (schema: unknown, errs: ConfigProblem[] = [], names?: Set<string>) =>
    check(ctx, schema, v, at, errs, names, depth + 1);

  if (typeof s.$ref === 'string') {
    const target = resolveRef(ctx, s.$ref);
    if (target === undefined) fail('$ref', `refers to ${s.$ref}, which the schema does not define`);
    else check(ctx, target, v, at, out, own, depth + 1);
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    // `nullable` (OpenAPI, which ajv also honours) lets null through a typed schema.
    if (!types.some((t) => hasType(v, t)) && !(v === null && s.nullable === true))
      fail('type', `must be ${types.join(',')}`, { type: s.type });
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => equal(e, v)))
    fail('enum', `must be one of ${s.enum.map(show).join(', ')}`, { allowedValues: s.enum });
  if ('const' in s && !equal(s.const, v)) fail('const', `must be ${show(s.const)}`, { allowedValue: s.const });

  if (typeof v === 'number') {
    const n = (k: string) => {
      const x = s[k];
      return typeof x === 'number' ? x : undefined;
    };
    const [mo, max, xmax, min, xmin] = ['multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum'].map(
      n,
    );
    if (mo !== undefined && !Number.isInteger(v / mo)) fail('multipleOf', `must be multiple of ${mo}`);
    if (max !== undefined && v > max) fail('maximum', `must be <= ${max}`);
    if (xmax !== undefined && v >= xmax) fail('exclusiveMaximum', `must be < ${xmax}`);
    if (min !== undefined && v < min) fail('minimum', `must be >= ${min}`);
    if (xmin !== undefined && v <= xmin) fail('exclusiveMinimum', `must be > ${xmin}`);
  }
  if (typeof v === 'string') {
    const len = [...v].length;
    if (typeof s.maxLength === 'number' && len > s.maxLength)
      fail('maxLength', `must NOT have more than ${s.maxLength} characters`);
    if (typeof s.minLength === 'number' && len < s.minLength)
      fail('minLength', `must NOT have fewer than ${s.minLength} characters`);
    // zod publishes a format with its own long regex: the format's name says more than the regex.
    if (typeof s.pattern === 'string' && !ctx.re(s.pattern).test(v)) {
      const shown = s.pattern.length > 80 ? `${s.pattern.slice(0, 77)}...` : s.pattern;
      if (typeof s.format === 'string') fail('pattern', `must match format ${show(s.format)}`, { pattern: s.pattern });
      else fail('pattern', `must match pattern ${show(shown)}`, { pattern: s.pattern });
    }
  }
  if (
    typeof s.format === 'string' &&
    !checkFormat(s.format, v) &&
    !out.some((p) => p.keyword === 'pattern' && p.instancePath === at)
  )
    fail('format', `must match format ${show(s.format)}`, { format: s.format });

  if (Array.isArray(v)) checkArray(ctx, s, v, at, out, depth, fail);
  if (isObj(v)) checkObject(ctx, s, v, at, out, own, depth, fail);

  if (Array.isArray(s.allOf)) for (const branch of s.allOf) sub(branch, out, own);
  if (Array.isArray(s.anyOf)) {
    const errs: ConfigProblem[] = [];
    let any = false;
    for (const branch of s.anyOf) {
      const names = new Set<string>();
      if (sub(branch, errs, names)) {
        any = true;
        names.forEach((x) => own.add(x));
      }
    }
    if (!any)
      out.push(...firstFew(errs), { instancePath: at, keyword: 'anyOf', message: 'must match a schema in anyOf' });
  }
  if (Array.isArray(s.oneOf)) {
    const errs: ConfigProblem[] = [];
    const passing: number[] = [];
    s.oneOf.forEach((branch, i) => {
      const names = new Set<string>();
      if (sub(branch, errs, names)) {
        passing.push(i);
        names.forEach((x) => own.add(x));
      }
    });
    if (passing.length === 0)
      out.push(...firstFew(errs), {
        instancePath: at,
        keyword: 'oneOf',
        message: 'must match exactly one schema in oneOf',
      });
    else if (passing.length > 1)
      fail('oneOf', `must match exactly one schema in oneOf (matches ${passing.join(' and ')})`, {
        passingSchemas: passing,
      });
  }
  if (s.not !== undefined && sub(s.not)) fail('not', 'must NOT be valid against the schema in "not"');
  if (s.if !== undefined) {
    const names = new Set<string>();
    const passed = sub(s.if, [], names);
    if (passed) names.forEach((x) => own.add(x));
    sub(passed ? s.then : s.else, out, own);
  }
  if (isObj(v) && isObj(s.dependentSchemas))
    for (const [k, dep] of Object.entries(s.dependentSchemas)) if (Object.hasOwn(v, k)) sub(dep, out, own);

  if (isObj(v) && s.unevaluatedProperties !== undefined) {
    for (const k of Object.keys(v)) {
      if (own.has(k)) continue;
      if (s.unevaluatedProperties === false)
        fail('unevaluatedProperties', 'is not a known field (unevaluated)', undefined, ptr(at, k));
      else check(ctx, s.unevaluatedProperties, v[k], ptr(at, k), out, undefined, depth + 1);
      own.add(k);
    }
  }
  const ok = out.length === start;
  if (ok && seen) own.forEach((x) => seen.add(x));
  return ok;
}

/** The alternatives' own problems, capped so the detail stays readable. */
const firstFew = (errs: ConfigProblem[]) => errs.slice(0, 6);

type Fail = (keyword: string, message: string, params?: Record<string, unknown>, path?: string) => void;

function checkArray(ctx: Ctx, s: Schema, v: unknown[], at: string, out: ConfigProblem[], depth: number, fail: Fail) {
  if (typeof s.maxItems === 'number' && v.length > s.maxItems)
    fail('maxItems', `must NOT have more than ${s.maxItems} items`);
  if (typeof s.minItems === 'number' && v.length < s.minItems)
    fail('minItems', `must NOT have fewer than ${s.minItems} items`);
  if (s.uniqueItems === true) {
    for (let i = 1; i < v.length; i++)
      for (let j = 0; j < i; j++)
        if (equal(v[i], v[j]))
          fail('uniqueItems', `must NOT have duplicate items (items ## ${j} and ${i} are identical)`);
  }
  const prefix: unknown[] = Array.isArray(s.prefixItems) ? s.prefixItems : [];
  v.forEach((item, i) => {
    const schema = i < prefix.length ? prefix[i] : s.items;
    if (schema !== undefined) check(ctx, schema, item, ptr(at, i), out, undefined, depth + 1);
  });
  if (s.contains !== undefined) {
    const hits = v.filter((item) => check(ctx, s.contains, item, at, [], undefined, depth + 1)).length;
    const min = typeof s.minContains === 'number' ? s.minContains : 1;
    if (hits < min) fail('contains', `must contain at least ${min} valid item(s)`);
    if (typeof s.maxContains === 'number' && hits > s.maxContains)
      fail('contains', `must contain at most ${s.maxContains} valid item(s)`);
  }
}

function checkObject(
  ctx: Ctx,
  s: Schema,
  v: Record<string, unknown>,
  at: string,
  out: ConfigProblem[],
  own: Set<string>,
  depth: number,
  fail: Fail,
) {
  const keys = Object.keys(v);
  if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties)
    fail('maxProperties', `must NOT have more than ${s.maxProperties} properties`);
  if (typeof s.minProperties === 'number' && keys.length < s.minProperties)
    fail('minProperties', `must NOT have fewer than ${s.minProperties} properties`);
  if (Array.isArray(s.required))
    for (const k of s.required as string[])
      if (!Object.hasOwn(v, k)) fail('required', 'is required (missing)', { missingProperty: k }, ptr(at, k));
  if (isObj(s.dependentRequired))
    for (const [k, deps] of Object.entries(s.dependentRequired))
      if (Object.hasOwn(v, k) && Array.isArray(deps))
        for (const d of deps as string[])
          if (!Object.hasOwn(v, d))
            fail('dependentRequired', `is required when ${show(k)} is present`, { missingProperty: d }, ptr(at, d));
  const props = isObj(s.properties) ? s.properties : {};
  const patterns = isObj(s.patternProperties) ? Object.entries(s.patternProperties) : [];
  for (const k of keys) {
    const path = ptr(at, k);
    if (s.propertyNames !== undefined) {
      const errs: ConfigProblem[] = [];
      if (!check(ctx, s.propertyNames, k, path, errs, undefined, depth + 1))
        fail('propertyNames', `has a name that ${errs[0]?.message ?? 'is invalid'}`, { propertyName: k }, path);
    }
    let matched = false;
    if (Object.hasOwn(props, k)) {
      matched = true;
      check(ctx, props[k], v[k], path, out, undefined, depth + 1);
    }
    for (const [p, sub] of patterns) {
      if (!ctx.re(p).test(k)) continue;
      matched = true;
      check(ctx, sub, v[k], path, out, undefined, depth + 1);
    }
    if (!matched && s.additionalProperties !== undefined) {
      if (s.additionalProperties === false) {
        const known = Object.keys(props);
        fail(
          'additionalProperties',
          `is not a known field${known.length ? ` (known: ${known.join(', ')})` : ''}`,
          { additionalProperty: k },
          path,
        );
      } else check(ctx, s.additionalProperties, v[k], path, out, undefined, depth + 1);
      matched = true;
    }
    if (matched) own.add(k);
  }
}
