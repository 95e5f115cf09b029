// How CLI commands reach the control plane: URL and user token from flags, then
// OUTPOST_URL / OUTPOST_TOKEN, then the `.outpost/` files written by `outpost dev`. A token
// itself is never taken from argv (readable by every process of the host, and logged by npm
// into ~/.npm/_logs, which sandboxed user code can read): only a file holding it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from './commander.js';
import { readFlagFile } from './flag-file.js';
import { OutpostError, formatError, type ErrorCode } from '../shared/errors.js';

export interface ClientOptions {
  url?: string;
  /** Set only to refuse it: `--token <token>` is kept as a hidden option for a coded error. */
  token?: string;
  tokenFile?: string;
  dataDir?: string;
  json?: boolean;
}

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** Adds --url, --token-file, --data-dir and --json to a command. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `control-plane URL (env OUTPOST_URL, default ${DEFAULT_URL})`)
    .option('--token-file <path>', 'file holding the user token (else env OUTPOST_TOKEN, else <data-dir>/user.token)')
    .addOption(new Option('--token <token>').hideHelp())
    .option('--data-dir <dir>', 'where `outpost dev` keeps its state', '.outpost')
    .option('--json', 'print machine-readable JSON');
}

export function resolveTarget(
  opts: ClientOptions,
  env: NodeJS.ProcessEnv = process.env,
): { url: string; token: string } {
  const url = (opts.url ?? env.OUTPOST_URL ?? readUrlFile(opts.dataDir) ?? DEFAULT_URL).replace(/\/$/, '');
  if (opts.token !== undefined) {
    throw new OutpostError('TOKEN_ON_COMMAND_LINE', { detail: '--token <token>' });
  }
  let token =
    opts.tokenFile !== undefined
      ? readFlagFile('--token-file', opts.tokenFile, 'a file holding the user token').trim()
      : env.OUTPOST_TOKEN;
  if (!token && opts.tokenFile === undefined) {
    const file = join(opts.dataDir ?? '.outpost', 'user.token');
    if (existsSync(file)) token = readFileSync(file, 'utf8').trim();
  }
  if (!token) {
    throw new OutpostError('UNAUTHENTICATED', {
      detail: 'no user token: pass --token-file, set OUTPOST_TOKEN, or run `npm start` (writes .outpost/user.token)',
    });
  }
  return { url, token };
}

function readUrlFile(dataDir = '.outpost'): string | undefined {
  const file = join(dataDir, 'url');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

export interface UserApi {
  url: string;
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

interface GraphQLBody {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A response that is not a clean `{data}`: an HTTP error status or GraphQL errors. */
export class GraphQLResponseError extends Error {
  constructor(readonly response: { status: number; errors?: GraphQLBody['errors'] }) {
    super(response.errors?.[0]?.message ?? `HTTP ${response.status}`);
  }
}

/**
 * A plain POST over node:http(s), not a GraphQL client library and not fetch: a CLI command
 * starts in a fraction of a second only if it loads nothing it does not need (graphql-js alone
 * is ~60 ms of loading), and `outpost dev` keeps this client for its lifetime, where fetch's
 * undici held ~10 MB more than node:http (bench/footprint-dev.ts).
 */
export function userApi(opts: ClientOptions): UserApi {
  const { url, token } = resolveTarget(opts);
  const endpoint = `${url}/graphql`;
  return {
    url,
    async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      try {
        const res = await postJson(endpoint, { authorization: `Bearer ${token}` }, { query, variables });
        let body: GraphQLBody | undefined;
        try {
          body = JSON.parse(res.text) as GraphQLBody;
        } catch {
          body = undefined;
        }
        const ok = res.status >= 200 && res.status < 300;
        if (!ok || !body || body.errors?.length || body.data === undefined || body.data === null) {
          throw new GraphQLResponseError({ status: res.status, ...(body?.errors ? { errors: body.errors } : {}) });
        }
        return body.data as T;
      } catch (err) {
        throw toOutpostError(err, url);
      }
    },
  };
}

/** A transport failure (refused, reset, DNS, TLS): the control plane could not be reached. */
export class TransportError extends Error {}

/** POSTs `payload` as JSON; resolves with any HTTP answer, rejects with a TransportError. */
export async function postJson(
  endpoint: string,
  headers: Record<string, string>,
  payload: unknown,
): Promise<{ status: number; text: string }> {
  const { request } = endpoint.startsWith('https:') ? await import('node:https') : await import('node:http');
  const body = Buffer.from(JSON.stringify(payload));
  return new Promise((resolve, reject) => {
    const req = request(
      endpoint,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(body.length),
          accept: 'application/graphql-response+json, application/json',
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', (err) => reject(new TransportError(err.message, { cause: err })));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.on('error', (err) => reject(new TransportError(err.message, { cause: err })));
    req.end(body);
  });
}

/** Turns transport and GraphQL errors into coded errors that say what to do. */
export function toOutpostError(err: unknown, url: string): Error {
  if (err instanceof GraphQLResponseError) {
    const first = err.response.errors?.[0];
    const ext = (first?.extensions ?? {}) as { code?: string; hint?: string };
    if (ext.code?.startsWith('OUTPOST_ERR_'))
      return new RemoteError(ext.code as ErrorCode, first?.message ?? 'error', ext.hint);
    if (err.response.status === 401) return new OutpostError('UNAUTHENTICATED');
    if (err.response.status === 403) return new OutpostError('FORBIDDEN');
    return new OutpostError('BAD_REQUEST', { detail: first?.message ?? `HTTP ${err.response.status}` });
  }
  const cause = (err as { cause?: { code?: string } }).cause;
  if (
    err instanceof TransportError ||
    cause?.code === 'ECONNREFUSED' ||
    (err instanceof TypeError && /fetch failed/.test(err.message))
  ) {
    return new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${url} (is \`npm start\` running?)` });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** An error reported by the server, carrying its code and hint. */
export class RemoteError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint: string | undefined,
  ) {
    super(message);
  }
}

export function printCliError(err: unknown, json: boolean): void {
  if (json) {
    const body =
      err instanceof RemoteError
        ? { code: err.code, message: err.message, hint: err.hint }
        : err instanceof OutpostError
          ? err.toJSON()
          : { code: 'OUTPOST_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) };
    console.error(JSON.stringify({ error: body }));
    return;
  }
  if (err instanceof RemoteError) console.error(`${err.code}: ${err.message}${err.hint ? `\n  → ${err.hint}` : ''}`);
  else console.error(formatError(err));
}

/** A small stderr spinner for long waits; silent when stderr is not a TTY or --json is on. */
export function spinner(
  text: string,
  enabled = process.stderr.isTTY,
): { update(t: string): void; stop(final?: string): void } {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  let current = text;
  const timer = setInterval(() => process.stderr.write(`\r${frames[i++ % frames.length]} ${current}\x1b[K`), 80);
  return {
    update: (t) => (current = t),
    stop: (final) => {
      clearInterval(timer);
      process.stderr.write(`\r\x1b[K${final ? final + '\n' : ''}`);
    },
  };
}
