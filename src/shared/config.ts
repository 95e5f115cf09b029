// The one config loader: a zod schema per component, filled from CLI flags first, then
// environment variables, then the schema's defaults. Errors name the flag and variable.
import { z } from 'zod';
import { OutpostError } from './errors.js';
import { issuePath } from './zod-issues.js';

/** One option: its flag, its environment variable, and how to read the string. */
export interface OptionSource {
  flag: string;
  env: string;
}

export type OptionSources<T> = { [K in keyof T]?: OptionSource };

/**
 * Builds a config object. `flags` holds values already parsed by commander (undefined when
 * not given); `sources` maps each key to its flag/env names. zod coerces and validates.
 */
export function loadConfig<S extends z.ZodObject<z.ZodRawShape>>(
  schema: S,
  sources: OptionSources<z.input<S>>,
  flags: Partial<Record<keyof z.input<S>, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const fromFlag = flags[key as keyof z.input<S>];
    const src = sources[key as keyof z.input<S>];
    if (fromFlag !== undefined) raw[key] = fromFlag;
    else if (src && env[src.env] !== undefined && env[src.env] !== '') raw[key] = env[src.env];
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const src = sources[key as keyof z.input<S>];
      const where = src ? `${src.flag} / ${src.env}` : issuePath(i.path);
      return `${where}: ${i.message}`;
    });
    throw new OutpostError('CONFIG_INVALID', { detail: problems.join('; ') });
  }
  return parsed.data;
}

/** A port number from a string or number. */
export const portSchema = z.coerce.number().int().min(0).max(65535);
/** A positive integer from a string or number. */
export const positiveInt = z.coerce.number().int().positive();
/** A boolean from "true"/"1"/"false"/"0" or a boolean. */
export const boolish = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);
