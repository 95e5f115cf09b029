// An HTTP hop between the agent and the control plane that can hold chosen agent-API calls,
// so a fault case reaches an exact moment of the agent's protocol instead of racing it:
//   - a held REQUEST never reached the control plane (e.g. ackWork: the workflow exists, the
//     item is still CLAIMED);
//   - a held RESPONSE means the control plane acted but the agent never learned it (e.g.
//     claimWork: items CLAIMED, no workflow started).
// The agent process is not changed; it only sees a slow network. Held calls are dropped (their
// connection destroyed, never forwarded) when the case resets the gate after killing the agent.
// With no hold set, every call passes through; an unreachable control plane is passed on as a
// destroyed connection, as the agent would see it without the hop.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AgentCall {
  /** The first field of the GraphQL operation: claimWork, ackWork, reportRunLaunched, ... */
  op: string;
  variables: Record<string, unknown>;
}

type CallFilter = (call: AgentCall) => boolean;
type ResponseFilter = (call: AgentCall, body: unknown) => boolean;

interface Held {
  call: AgentCall;
  release(): void;
  drop(): void;
}

interface InFlight {
  call: AgentCall | undefined;
  interrupt(): void;
}

/** The operation's first field and its variables, or undefined for anything else. */
export function parseAgentCall(body: Buffer): AgentCall | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { query?: unknown; variables?: unknown };
    if (typeof parsed.query !== 'string') return undefined;
    const m = /^[^{]*\{\s*(\w+)/.exec(parsed.query);
    if (!m) return undefined;
    const variables =
      parsed.variables && typeof parsed.variables === 'object' ? (parsed.variables as Record<string, unknown>) : {};
    return { op: m[1]!, variables };
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept'];

export class AgentApiGate {
  url = '';
  private readonly server = createServer((req, res) => {
    // A call cut off mid-body (the agent killed) ends here, not as an unhandled rejection.
    this.handle(req, res).catch(() => req.socket.destroy());
  });
  private requestHolds: CallFilter[] = [];
  private responseHolds: ResponseFilter[] = [];
  private readonly heldRequests = new Set<Held>();
  private readonly heldResponses = new Set<Held>();
  private readonly inFlight = new Set<InFlight>();
  /** Calls the agent made while a hold was set, and whether each reached the control plane. */
  private log: Array<{ call: AgentCall; forwarded: boolean }> = [];

  /** `target()` is read per call: the control plane may restart (on the same port). */
  constructor(private readonly target: () => string) {}

  async start(): Promise<void> {
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', res));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.reset();
    this.server.closeAllConnections();
    await new Promise<void>((res) => this.server.close(() => res()));
  }

  /** Calls matching `filter` are held before they reach the control plane. */
  holdRequests(filter: CallFilter): void {
    this.requestHolds.push(filter);
  }

  /** Answers matching `filter` are held after the control plane acted on the call. */
  holdResponses(filter: ResponseFilter): void {
    this.responseHolds.push(filter);
  }

  /** Calls held now (requests, then responses), optionally of one operation. */
  held(op?: string): { requests: AgentCall[]; responses: AgentCall[] } {
    const pick = (s: Set<Held>): AgentCall[] => [...s].map((h) => h.call).filter((c) => !op || c.op === op);
    return { requests: pick(this.heldRequests), responses: pick(this.heldResponses) };
  }

  /**
   * Calls of `op` the agent made since a hold was set (until the reset), held or not, retries
   * included; with `forwarded`, whether each reached the control plane.
   */
  calls(op?: string): Array<{ call: AgentCall; forwarded: boolean }> {
    return this.log.filter((e) => !op || e.call.op === op);
  }

  /** Lets held requests of `op` go on to the control plane (they stay subject to response holds). */
  releaseRequests(op: string): number {
    const go = [...this.heldRequests].filter((h) => h.call.op === op);
    for (const h of go) h.release();
    return go.length;
  }

  /**
   * Ends the long-polls the control plane is serving for the agent with an empty claim, so
   * its next poll meets the holds set now. Call only while no item is queued: an item claimed
   * by an interrupted poll would wait for its lease to expire.
   */
  interruptClaims(): number {
    const polls = [...this.inFlight].filter((f) => f.call?.op === 'claimWork');
    for (const p of polls) p.interrupt();
    return polls.length;
  }

  /** Drops everything held (never forwarded, never answered) and lets every call through again. */
  reset(): void {
    this.requestHolds = [];
    this.responseHolds = [];
    for (const h of [...this.heldRequests, ...this.heldResponses]) h.drop();
    this.heldRequests.clear();
    this.heldResponses.clear();
    this.log = [];
  }

  private hold(set: Set<Held>, call: AgentCall, res: ServerResponse): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const entry: Held = {
        call,
        release: () => {
          set.delete(entry);
          resolve(true);
        },
        drop: () => {
          set.delete(entry);
          resolve(false);
        },
      };
      set.add(entry);
      res.once('close', () => entry.drop());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const call = parseAgentCall(body);
    // Logged only while a hold is set: the pass-through cases ship big event batches.
    const holding = this.requestHolds.length > 0 || this.responseHolds.length > 0;
    const entry = call && holding ? { call, forwarded: false } : undefined;
    if (entry) this.log.push(entry);
    if (call && this.requestHolds.some((f) => f(call))) {
      if (!(await this.hold(this.heldRequests, call, res))) return void req.socket.destroy();
    }
    if (entry) entry.forwarded = true;
    const abort = new AbortController();
    let interrupted = false;
    const flight: InFlight = {
      call,
      interrupt: () => {
        interrupted = true;
        abort.abort();
      },
    };
    this.inFlight.add(flight);
    // The agent gave up on the call (shutdown aborts its long-poll): so does the control plane.
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    let status: number;
    let type: string;
    let data: Buffer;
    try {
      const headers: Record<string, string> = {};
      for (const h of FORWARDED_HEADERS) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
      const upstream = await fetch(`${this.target()}${req.url ?? '/'}`, {
        method: req.method ?? 'POST',
        headers,
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
        signal: abort.signal,
      });
      status = upstream.status;
      type = upstream.headers.get('content-type') ?? 'application/json';
      data = Buffer.from(await upstream.arrayBuffer());
    } catch {
      this.inFlight.delete(flight);
      if (interrupted) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ data: { claimWork: [] } }));
      }
      return void req.socket.destroy();
    }
    this.inFlight.delete(flight);
    if (call && this.responseHolds.length) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (this.responseHolds.some((f) => f(call, parsed))) {
        if (!(await this.hold(this.heldResponses, call, res))) return void req.socket.destroy();
      }
    }
    res.writeHead(status, { 'content-type': type });
    res.end(data);
  }
}
