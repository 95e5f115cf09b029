// The JSON Schema (draft 2020-12) a code server publishes for a job's run config: a zod/v4
// schema converted (describing the input: fields with defaults are optional), a JSON Schema as
// written. Here and not in the SDK, so run workers never load zod for it. Converted once per
// schema: GetDefinitions is answered many times over a location's life.
import { z } from 'zod/v4';
import type { ConfigSchema } from '../sdk/config-schema.js';

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
