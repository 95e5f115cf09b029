// One GraphQL POST for tests that talk to a real control plane over HTTP: bearer token in,
// `data` out, and the errors' messages thrown (with the start of the query) when there are any.
export type Vars = Record<string, unknown>;

export async function graphqlCall<T>(
  baseUrl: string,
  path: string,
  token: string,
  query: string,
  variables: Vars = {},
): Promise<T> {
  const res = await fetch(baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (body.errors?.length) throw new Error(`${query.slice(0, 60)}: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data as T;
}
