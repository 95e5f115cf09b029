// The run-config validator of each job's config schema, built once per schema and cached. The
// schema is made strict first (strict-config.ts), then checked by the interpreter in
// core/config-validator.ts: building it is one walk over the schema, so the first launch of a job
// costs no code generation on the control plane's single thread. ajv is loaded (lazily, never at
// start) only for a schema using standard keywords the interpreter leaves to it ($dynamicRef, …);
// a keyword no JSON Schema draft defines refuses the launch rather than being skipped.
import type { Ajv2020 } from 'ajv/dist/2020.js';
import { OutpostError } from '../../shared/errors.js';
import { compileConfigSchema, type ConfigProblem } from '../core/config-validator.js';
import { strictConfigSchema } from '../core/strict-config.js';

export type ConfigValidator = (value: unknown) => ConfigProblem[];

const MAX_CACHED = 500;
const cache = new Map<string, ConfigValidator | Promise<ConfigValidator>>();

/** How many validators were built in this process (tests assert none is built per launch). */
export const configValidatorStats = { built: 0, ajv: 0 };

/** The validator of a job's config schema (as the location published it). */
export function configValidatorFor(schema: Record<string, unknown>): ConfigValidator | Promise<ConfigValidator> {
  const key = JSON.stringify(schema);
  const hit = cache.get(key);
  if (hit) return hit;
  const built = build(schema);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, built);
  // A failed build is not remembered: the next launch reports the same problem afresh.
  if (built instanceof Promise) built.catch(() => cache.delete(key));
  return built;
}

function build(schema: Record<string, unknown>): ConfigValidator | Promise<ConfigValidator> {
  configValidatorStats.built++;
  // Snapshots may name any draft in $schema; the 2020-12 keywords are what is checked.
  const { $schema: _ignored, ...rest } = schema;
  const strict = strictConfigSchema(rest);
  const compiled = compileConfigSchema(strict);
  if (compiled.kind === 'ok') return compiled.validate;
  if (compiled.kind === 'unknown') {
    throw new OutpostError('CONFIG_SCHEMA_UNSUPPORTED', {
      detail: `not checkable: ${compiled.keywords.join(', ')}`,
      data: { keywords: compiled.keywords },
    });
  }
  configValidatorStats.ajv++;
  return withAjv(strict);
}

let ajvInstance: Promise<Ajv2020> | undefined;

async function loadAjv() {
  const [{ Ajv2020 }, formats] = await Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')]);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (formats.default as unknown as (a: typeof ajv) => void)(ajv);
  return ajv;
}

async function withAjv(schema: Record<string, unknown>): Promise<ConfigValidator> {
  const validate = (await (ajvInstance ??= loadAjv())).compile(schema);
  return (value) =>
    validate(value)
      ? []
      : (validate.errors ?? []).map((e) => ({
          instancePath: e.instancePath,
          keyword: e.keyword,
          message: e.message ?? 'is invalid',
          params: e.params as Record<string, unknown>,
        }));
}
