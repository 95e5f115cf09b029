// Answers whose body is already whole in memory (a GraphQL answer from the fast path, a coded
// error): node-server.ts sends them with a content-length in one socket write, instead of
// reading them back through the Response's web stream and sending them chunked (a write for the
// headers and body, then one for the last chunk: the socket writes were the control plane's
// largest single cost per request in a burst of launches). A Response made any other way, or
// rebuilt from this one, is streamed as before.
const bodies = new WeakMap<Response, string>();

/** A Response whose body node-server.ts may send whole. */
export function wholeResponse(body: string, init: ResponseInit): Response {
  const response = new Response(body, init);
  bodies.set(response, body);
  return response;
}

/** The body `response` was made with by wholeResponse, if it was. */
export function wholeBody(response: Response): string | undefined {
  return bodies.get(response);
}

/** A 200 JSON answer (as Response.json makes it) that node-server.ts sends whole: the agent API's raw-body endpoints. */
export function jsonAnswer(value: unknown): Response {
  return wholeResponse(JSON.stringify(value), { status: 200, headers: { 'content-type': 'application/json' } });
}
