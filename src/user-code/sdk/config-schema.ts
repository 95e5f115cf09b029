// Run-config schemas: users write zod/v4 or plain JSON Schema; the code server publishes JSON
// Schema (draft 2020-12, code-server/config-json-schema.ts) and the run worker validates with
// the user's zod schema (applying defaults) or ajv. The SDK itself never loads zod: a run worker
// of a location that does not import it should not pay for it (~60 modules, ~35 ms of CPU).
import type { z } from 'zod/v4';
import { OutpostError } from '../../shared/errors.js';
import { zodIssueLines } from '../../shared/zod-issues.js';

/** A zod/v4 schema whose output is `T`, or a JSON Schema object. */
export type ConfigSchemaInput<T> = z.ZodType<T> | JsonSchemaObject;
export type JsonSchemaObject = { [key: string]: unknown } & { _zod?: never; _def?: never };

export type ConfigCheck = { ok: true; value: unknown } | { ok: false; issues: string[] };

export interface ConfigSchema {
  /**
   * What the user wrote: a zod/v4 schema, or JSON Schema describing the input. The published
   * JSON Schema is made from it where it is needed (code-server/config-json-schema.ts).
   */
  readonly input: { zod: z.ZodType } | { jsonSchema: Record<string, unknown> };
  check(value: unknown): Promise<ConfigCheck>;
}

export function toConfigSchema(input: ConfigSchemaInput<unknown>, owner: string): ConfigSchema {
  if (typeof input !== 'object' || input === null) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: `${owner}: config must be a zod/v4 schema or a JSON Schema` });
  }
  if ('_zod' in input) return fromZod(input as z.ZodType);
  if ('_def' in input) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `${owner}: config is a zod v3 schema; import { z } from 'zod/v4' instead (it converts to JSON Schema)`,
    });
  }
  return fromJsonSchema(input);
}

function fromZod(schema: z.ZodType): ConfigSchema {
  return {
    input: { zod: schema },
    check(value) {
      const parsed = schema.safeParse(value);
      if (parsed.success) return Promise.resolve({ ok: true, value: parsed.data });
      return Promise.resolve({ ok: false, issues: zodIssueLines(parsed.error) });
    },
  };
}

function fromJsonSchema(schema: Record<string, unknown>): ConfigSchema {
  let validator: Promise<(value: unknown) => ConfigCheck> | undefined;
  return {
    input: { jsonSchema: schema },
    async check(value) {
      // ajv is loaded only when a job actually uses JSON Schema: it costs start-up time.
      validator ??= compileAjv(schema);
      return (await validator)(structuredClone(value));
    },
  };
}

async function compileAjv(schema: Record<string, unknown>): Promise<(value: unknown) => ConfigCheck> {
  const [{ Ajv2020 }, formats] = await Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')]);
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false });
  (formats.default as unknown as (a: typeof ajv) => void)(ajv);
  const validate = ajv.compile(schema);
  return (value) => {
    if (validate(value)) return { ok: true, value };
    return {
      ok: false,
      issues: (validate.errors ?? []).map(
        (e) => `${e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(root)'}: ${e.message ?? 'invalid'}`,
      ),
    };
  };
}
