// Reused buffers for the raw-body endpoints' bodies (raw-body.ts): a log chunk is 1 MiB and an
// event batch most of one, several in flight. A fresh buffer per body costs the allocation, the
// kernel's page faults on first touch and, as external memory, earlier garbage collections; a
// pooled one is already mapped. Buffers come in power-of-two sizes and go back once the handler
// is done with the body (releaseBody: the store copies what it keeps before it answers). The pool
// holds a few per size and empties itself after a while without use, so an idle control plane
// keeps none.
const MIN_POOLED = 64 * 1024;
const MAX_POOLED = 8 * 1024 * 1024;
/** Per size: the agent keeps 3 requests in flight for events, stdout and stderr each. */
const KEEP_PER_SIZE = 8;
/** Dropped after this long without a take. */
const IDLE_MS = 30_000;

const free = new Map<number, ArrayBuffer[]>();
/** Pooled memory currently lent out: releaseBody takes back only these, once each. */
const lent = new WeakSet<ArrayBuffer>();
let lastTake = 0;
let sweeper: NodeJS.Timeout | undefined;

function sizeClass(n: number): number {
  let c = MIN_POOLED;
  while (c < n) c *= 2;
  return c;
}

function sweepWhenIdle(): void {
  if (sweeper) return;
  sweeper = setTimeout(() => {
    sweeper = undefined;
    if (Date.now() - lastTake >= IDLE_MS) free.clear();
    else sweepWhenIdle();
  }, IDLE_MS);
  sweeper.unref();
}

/** A buffer of exactly `n` bytes (contents undefined): pooled memory for a body worth pooling. */
export function takeBody(n: number): Buffer {
  if (n < MIN_POOLED || n > MAX_POOLED) return Buffer.allocUnsafe(n);
  const size = sizeClass(n);
  const memory = free.get(size)?.pop() ?? new ArrayBuffer(size);
  lent.add(memory);
  lastTake = Date.now();
  sweepWhenIdle();
  return Buffer.from(memory, 0, n);
}

/** Gives a body's memory back to the pool; nothing may use `body` afterwards. */
export function releaseBody(body: Buffer | undefined): void {
  if (!body) return;
  const memory = body.buffer as ArrayBuffer;
  if (!lent.has(memory)) return;
  lent.delete(memory);
  let list = free.get(memory.byteLength);
  if (!list) free.set(memory.byteLength, (list = []));
  if (list.length < KEEP_PER_SIZE) list.push(memory);
}
