// A GraphQL POST body parsed once. JSON.parse is the whole cost of a wide body (15 MiB of `[[],[],…]`
// took ~1.5-2 s of CPU per parse, measured), and the body used to be parsed twice: by the fast
// path (graphql/fast-path.ts) and again by yoga when the fast path declined. handler.ts parses
// it here, hands the value to the fast path, and attaches it to the Request it gives yoga, whose
// request parser (the plugin below) takes it instead of reading the body again. A body that is
// not JSON is refused with yoga's own error for it, without yoga reading it a second time.
import { GraphQLError } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';

export type ParsedBody = { ok: true; value: unknown } | { ok: false };

/** Parses a JSON request body (UTF-8). */
export function parseBody(body: ArrayBuffer | Buffer): ParsedBody {
  try {
    return { ok: true, value: JSON.parse((Buffer.isBuffer(body) ? body : Buffer.from(body)).toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

const parsed = new WeakMap<Request, ParsedBody>();

/** Gives yoga `body`, already parsed, for `request` (the Request handler.ts passes to yoga.fetch). */
export function attachParsedBody(request: Request, body: ParsedBody): void {
  parsed.set(request, body);
}

/** The refusals yoga's own JSON parser raises (post-json.js), so the answer is the same either way. */
function badBody(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
}

/** yoga's request parser for a body handler.ts has parsed; other requests keep yoga's parsers. */
export function useParsedBody(): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      const body = parsed.get(request);
      if (!body) return;
      parsed.delete(request);
      setRequestParser(() => {
        if (!body.ok) throw badBody('POST body sent invalid JSON.');
        const v = body.value;
        if (v === null || typeof v !== 'object')
          throw badBody(`POST body is expected to be object but received ${v === null ? 'null' : typeof v}`);
        return v as GraphQLParams;
      });
    },
  };
}
