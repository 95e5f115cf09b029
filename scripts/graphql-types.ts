// Renders TypeScript types from one API's schema source (a `.graphql` file) and, optionally, the
// operation documents a client sends: enums, input objects, each field's resolver argument type
// (`MutationLaunchRunArgs`, graphql-codegen's names), and each operation's variables and result.
// Pure (SDL and documents in, source text out) so the drift test can render into memory.
// graphql's own utilities instead of @graphql-codegen: no new dependency, and its override-pinned
// @graphql-tools versions (package.json "overrides") stay untouched.
import {
  buildSchema,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  parse,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type GraphQLArgument,
  type GraphQLFieldMap,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

export interface RenderOptions {
  /** The schema source (SDL). */
  sdl: string;
  /** Where the SDL came from, for the header. */
  source: string;
  /** Custom scalars → TypeScript type. */
  scalars: Record<string, string>;
  /**
   * Enums whose resolvers see other values than the wire (enum-values.ts): name → internal values.
   * Resolver args and input objects use those; operation variables and results use the wire ones.
   */
  internalEnums?: Record<string, readonly string[]>;
  /** Operation documents by operation name (a client's queries module). */
  documents?: Record<string, string>;
  /** Name of the interface that maps each operation name to its variables and result. */
  operationsInterface?: string;
}

const BUILTIN: Record<string, string> = {
  ID: 'string',
  String: 'string',
  Int: 'number',
  Float: 'number',
  Boolean: 'boolean',
};
/** `T | null`, except `unknown` (which already includes null). */
const orNull = (ts: string): string => (ts === 'unknown' ? ts : `${ts} | null`);
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function scalarTs(name: string, o: RenderOptions): string {
  const ts = BUILTIN[name] ?? o.scalars[name];
  if (!ts) throw new Error(`${o.source}: scalar ${name} has no TypeScript mapping (add it to scalars)`);
  return ts;
}

/** TypeScript for an input position; `view` picks the enum flavour (resolver-side or wire). */
function inputTs(t: GraphQLInputType, o: RenderOptions, view: 'resolver' | 'wire'): string {
  if (isNonNullType(t)) return inputTs(t.ofType, o, view).replace(/ \| null$/, '');
  if (isListType(t)) return `Array<${inputTs(t.ofType, o, view)}> | null`;
  if (isScalarType(t)) return orNull(scalarTs(t.name, o));
  if (isEnumType(t)) return `${view === 'resolver' && o.internalEnums?.[t.name] ? `${t.name}Value` : t.name} | null`;
  if (view === 'wire' && reachesInternalEnum(t, o)) {
    throw new Error(`${o.source}: input ${t.name} holds a remapped enum; operations cannot send it as typed`);
  }
  return `${t.name} | null`;
}

function reachesInternalEnum(t: GraphQLInputType, o: RenderOptions, seen = new Set<string>()): boolean {
  const n = getNamedType(t);
  if (isEnumType(n)) return Boolean(o.internalEnums?.[n.name]);
  if (!isInputObjectType(n) || seen.has(n.name)) return false;
  seen.add(n.name);
  return Object.values(n.getFields()).some((f) => reachesInternalEnum(f.type, o, seen));
}

/** One property line: nullable inputs may be omitted or null. */
function inputField(name: string, t: GraphQLInputType, o: RenderOptions, view: 'resolver' | 'wire'): string {
  const ts = inputTs(t, o, view);
  return isNonNullType(t) ? `  ${name}: ${ts};` : `  ${name}?: ${ts};`;
}

function outputTs(t: GraphQLOutputType, sel: SelectionSetNode | undefined, o: RenderOptions, indent: string): string {
  if (isNonNullType(t)) return outputTs(t.ofType, sel, o, indent).replace(/ \| null$/, '');
  if (isListType(t)) return `Array<${outputTs(t.ofType, sel, o, indent)}> | null`;
  if (isScalarType(t)) return orNull(scalarTs(t.name, o));
  if (isEnumType(t)) return `${t.name} | null`;
  if (!isObjectType(t) || !sel) throw new Error(`${o.source}: ${String(t)} needs an object selection`);
  return `${selectionTs(t.getFields(), sel, o, indent)} | null`;
}

function selectionTs(
  fields: GraphQLFieldMap<unknown, unknown>,
  sel: SelectionSetNode,
  o: RenderOptions,
  indent: string,
): string {
  const lines: string[] = [];
  for (const s of sel.selections) {
    if (s.kind !== Kind.FIELD) throw new Error(`${o.source}: fragments are not supported by this generator`);
    const key = s.alias?.value ?? s.name.value;
    if (s.name.value === '__typename') {
      lines.push(`${indent}  ${key}: string;`);
      continue;
    }
    const f = fields[s.name.value];
    if (!f) throw new Error(`${o.source}: unknown field ${s.name.value}`);
    lines.push(`${indent}  ${key}: ${outputTs(f.type, s.selectionSet, o, indent + '  ')};`);
  }
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function renderEnumsAndInputs(schema: GraphQLSchema, o: RenderOptions): string[] {
  const out: string[] = [];
  const types = Object.values(schema.getTypeMap())
    .filter((t) => !t.name.startsWith('__'))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const t of types) {
    if (isEnumType(t)) {
      out.push(
        `export type ${t.name} = ${t
          .getValues()
          .map((v) => lit(v.name))
          .join(' | ')};`,
      );
      const internal = o.internalEnums?.[t.name];
      if (internal) {
        out.push(
          `/** ${t.name} as resolvers receive it (enum-values.ts). */\nexport type ${t.name}Value = ${internal.map(lit).join(' | ')};`,
        );
      }
    }
  }
  for (const t of types) {
    if (!isInputObjectType(t)) continue;
    const body = Object.values(t.getFields()).map((f) => inputField(f.name, f.type, o, 'resolver'));
    out.push(`export interface ${t.name} {\n${body.join('\n')}\n}`);
  }
  return out;
}

function renderArgs(schema: GraphQLSchema, o: RenderOptions): string[] {
  const out: string[] = [];
  const objects = Object.values(schema.getTypeMap())
    .filter((t) => isObjectType(t) && !t.name.startsWith('__'))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const t of objects) {
    if (!isObjectType(t)) continue;
    for (const f of Object.values(t.getFields())) {
      if (!f.args.length) continue;
      const body = f.args.map((a: GraphQLArgument) => inputField(a.name, a.type, o, 'resolver'));
      out.push(`export interface ${t.name}${cap(f.name)}Args {\n${body.join('\n')}\n}`);
    }
  }
  return out;
}

function renderOperations(schema: GraphQLSchema, o: RenderOptions): string[] {
  const out: string[] = [];
  const index: string[] = [];
  for (const [key, text] of Object.entries(o.documents ?? {})) {
    const doc = parse(text);
    const errors = validate(schema, doc);
    if (errors.length)
      throw new Error(`${o.source}: document ${key} is invalid: ${errors.map((e) => e.message).join('; ')}`);
    const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const op = ops[0];
    if (ops.length !== 1 || !op || op.name?.value !== key) {
      throw new Error(`${o.source}: document ${key} must hold exactly one operation named ${key}`);
    }
    const kind = cap(op.operation);
    const root = schema.getRootType(op.operation);
    if (!root) throw new Error(`${o.source}: no ${op.operation} root`);
    const typeInfo = new TypeInfo(schema);
    const vars: string[] = [];
    visit(
      doc,
      visitWithTypeInfo(typeInfo, {
        VariableDefinition(node) {
          const t = typeInfo.getInputType();
          if (!t) throw new Error(`${o.source}: ${key}: unknown type for $${node.variable.name.value}`);
          const required = isNonNullType(t) && !node.defaultValue;
          const ts = inputTs(required ? t : getNullableType(t), o, 'wire');
          vars.push(required ? `  ${node.variable.name.value}: ${ts};` : `  ${node.variable.name.value}?: ${ts};`);
        },
      }),
    );
    out.push(`export type ${key}${kind}Variables = {\n${vars.join('\n')}\n};`);
    out.push(`export type ${key}${kind} = ${selectionTs(root.getFields(), op.selectionSet, o, '')};`);
    index.push(`  ${key}: { variables: ${key}${kind}Variables; result: ${key}${kind} };`);
  }
  if (o.operationsInterface) {
    out.push(
      `/** Each operation by name: what it sends and what it gets back. */\nexport interface ${o.operationsInterface} {\n${index.join('\n')}\n}`,
    );
  }
  return out;
}

/** The generated module's full text. */
export function renderGraphqlTypes(o: RenderOptions): string {
  const schema = buildSchema(o.sdl);
  const header = [
    `// Code generated by scripts/gen-graphql.ts (npm run gen:graphql). DO NOT EDIT.`,
    `// source: ${o.source}`,
  ];
  const parts = [...renderEnumsAndInputs(schema, o), ...renderArgs(schema, o), ...renderOperations(schema, o)];
  return `${header.join('\n')}\n\n${parts.join('\n\n')}\n`;
}
