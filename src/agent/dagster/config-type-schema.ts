// Dagster's run-config type graph (ConfigTypeSnap by key) as a JSON Schema 2020-12 object, inlined
// (no $ref) so the launch form and ajv read it like the schemas of TypeScript locations.
import type { ConfigFieldSnapT, ConfigTypeSnapT } from './serdes-readers.js';

type Schema = Record<string, unknown>;

const SCALARS: Record<string, Schema> = {
  INT: { type: 'integer' },
  FLOAT: { type: 'number' },
  STRING: { type: 'string' },
  BOOL: { type: 'boolean' },
};

function parseDefault(f: ConfigFieldSnapT): { default?: unknown } {
  if (!f.default_provided || f.default_value_as_json_str == null) return {};
  try {
    return { default: JSON.parse(f.default_value_as_json_str) as unknown };
  } catch {
    return {};
  }
}

export function configTypeToJsonSchema(rootKey: string, types: Record<string, ConfigTypeSnapT>): Schema {
  // Dagster's config types form a DAG; the guard only protects against a malformed reply.
  const visiting = new Set<string>();
  const convert = (key: string): Schema => {
    const t = types[key];
    if (!t || visiting.has(key)) return {};
    visiting.add(key);
    try {
      const described = t.description ? { description: t.description } : {};
      const params = t.type_param_keys ?? [];
      switch (t.kind) {
        case 'STRICT_SHAPE':
        case 'PERMISSIVE_SHAPE':
        case 'SELECTOR': {
          const fields = t.fields ?? [];
          const properties: Record<string, Schema> = {};
          for (const f of fields) {
            properties[f.name] = {
              ...convert(f.type_key),
              ...(f.description ? { description: f.description } : {}),
              // A selector branch's default applies only once that branch is chosen: as a JSON
              // Schema default, a validator filling defaults would select every branch at once.
              ...(t.kind === 'SELECTOR' ? {} : parseDefault(f)),
            };
          }
          const base: Schema = {
            type: 'object',
            ...described,
            properties,
            additionalProperties: t.kind === 'PERMISSIVE_SHAPE',
          };
          if (t.kind === 'SELECTOR') return { ...base, minProperties: 1, maxProperties: 1 };
          const required = fields.filter((f) => f.is_required).map((f) => f.name);
          return required.length ? { ...base, required } : base;
        }
        case 'ARRAY':
          return { type: 'array', ...described, items: convert(params[0]!) };
        case 'NONEABLE':
          return { anyOf: [convert(params[0]!), { type: 'null' }] };
        case 'ENUM':
          return { ...described, enum: (t.enum_values ?? []).map((v) => v.value) };
        case 'SCALAR_UNION':
          // e.g. Int or {env: String}: the scalar or its non-scalar alternative.
          return { anyOf: params.map(convert) };
        case 'MAP':
          // Keys are strings in JSON; the value type is the second parameter.
          return { type: 'object', ...described, additionalProperties: convert(params[1] ?? 'Any') };
        case 'SCALAR':
          return { ...(SCALARS[t.scalar_kind ?? ''] ?? {}), ...described };
        case 'ANY':
        default:
          return { ...described };
      }
    } finally {
      visiting.delete(key);
    }
  };
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...convert(rootKey) };
}
