// The JSON Schema (draft 2020-12) a code server publishes for a job's run config: a zod/v4
// schema converted (describing the input: fields with defaults are optional), a JSON Schema as
// written. Here and not in the SDK, so run workers never load zod for it. Converted once per
// schema: GetDefinitions is answered many times over a location's life. All of a location's are
// made as it loads, so one that cannot be made is its load error (as when the SDK made them).
import { z } from 'zod/v4';
import { OutpostError } from '../../shared/errors.js';
import type { ConfigSchema } from '../sdk/config-schema.js';
import type { LocationDef } from '../sdk/definitions.js';

const converted = new WeakMap<ConfigSchema, Record<string, unknown>>();

export function configJsonSchema(config: ConfigSchema | undefined): Record<string, unknown> {
  if (!config) return {};
  if ('jsonSchema' in config.input) return config.input.jsonSchema;
  let json = converted.get(config);
  if (!json) {
    json = z.toJSONSchema(config.input.zod, { io: 'input', unrepresentable: 'any' });
    converted.set(config, json);
  }
  return json;
}

/** Makes every job's config JSON Schema now; throws INVALID_ARGUMENT naming the job that has none. */
export function makeConfigJsonSchemas(location: LocationDef): void {
  for (const j of location.jobs) {
    try {
      configJsonSchema(j.config);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new OutpostError('INVALID_ARGUMENT', { detail: `job ${j.name}: its config has no JSON Schema (${why})` });
    }
  }
}
