// Watches a run's events as a client sees them stored: the user API's `runEvents` subscription
// (graphql-yoga SSE, GET + text/event-stream), each frame timestamped here on arrival. The
// control plane pushes a frame as soon as the events are committed (the subscription waits on
// the store's signal, not on a poll), so the arrival time is "stored" plus one local hop, on
// the bench's own clock, the same clock that timed the launchRun call.

export interface EventArrival {
  /** Date.now() when the frame carrying the event arrived. */
  at: number;
  /** Date.now() when the subscription's response headers arrived. */
  openedAt: number;
  data: Record<string, unknown> | null;
}

/** Subscribes to `runId` and resolves when the first event of `type` arrives; then hangs up. */
export async function firstEventArrival(
  baseUrl: string,
  token: string,
  runId: string,
  type: string,
  timeoutMs = 120_000,
): Promise<EventArrival> {
  const seen = await eventArrivals(baseUrl, token, runId, type, timeoutMs);
  return seen.byType.get(type)!;
}

export interface EventArrivals {
  /** The run's first event written by its worker (not one the control plane wrote), whatever its type. */
  first: EventArrival & { type: string };
  /** The first arrival of each type seen, up to and including `untilType`. */
  byType: Map<string, EventArrival>;
}

/** Subscribes to `runId`, timestamps every frame until the first event of `untilType` arrives; then hangs up. */
export async function eventArrivals(
  baseUrl: string,
  token: string,
  runId: string,
  untilType: string,
  timeoutMs = 120_000,
): Promise<EventArrivals> {
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new Error(`no ${untilType} for run ${runId} within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const byType = new Map<string, EventArrival>();
  let first: EventArrivals['first'] | undefined;
  try {
    const params = new URLSearchParams({
      query: 'subscription($r: ID!) { runEvents(runId: $r) { type workerSeq data } }',
      variables: JSON.stringify({ r: runId }),
    });
    const res = await fetch(`${baseUrl}/graphql?${params}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    const openedAt = Date.now();
    if (res.status !== 200 || !res.body) throw new Error(`runEvents subscription answered HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`runEvents for ${runId} ended without ${untilType}`);
      const at = Date.now();
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = frame
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (!data) continue;
        const body = JSON.parse(data) as {
          data?: { runEvents?: { type: string; workerSeq: number | null; data: Record<string, unknown> | null } };
          errors?: Array<{ message: string }>;
        };
        if (body.errors?.length) throw new Error(`runEvents: ${body.errors[0]!.message}`);
        const event = body.data?.runEvents;
        if (!event) continue;
        const arrival = { at, openedAt, data: event.data };
        if (event.workerSeq !== null) first ??= { ...arrival, type: event.type };
        if (!byType.has(event.type)) byType.set(event.type, arrival);
        if (event.type === untilType) {
          await reader.cancel().catch(() => undefined);
          return { first: first ?? { ...arrival, type: event.type }, byType };
        }
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
