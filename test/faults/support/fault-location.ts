// A code location for the fault suite only. Its `drip` job lets a test decide when runs end
// instead of guessing durations: it emits one LOG event and one stdout line every `everyMs`
// (so events are flowing while it waits), and finishes once it has emitted `minEvents` and
// `releaseFile` exists. Terminated, it keeps dripping for `cleanupMs` (a graceful shutdown
// that takes a while, so "mid-termination" is a state that lasts), then ends canceled.
// `maxSeconds` bounds every run: an unreleased one fails loudly instead of hanging the suite.
// `drip_every_3s` (STOPPED until a test starts it) asks for one short drip run per tick, so a
// case sees a schedule tick, stall and resume within seconds.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod/v4';
import { defineLocation, job, op, schedule } from 'outpost/sdk';

/** The stdout line a drip run prints when its termination reaches it (tests look for it). */
export const TERMINATION_RECEIVED = 'drip: termination received, cleaning up';

const DripConfig = z.object({
  everyMs: z.number().int().min(1).max(60_000).default(100),
  minEvents: z.number().int().min(0).max(1_000_000).default(5),
  releaseFile: z.string().optional(),
  maxSeconds: z.number().min(1).max(3_600).default(120),
  cleanupMs: z.number().int().min(0).max(60_000).default(0),
});

const dripOp = op({ name: 'drip', config: DripConfig }, async (ctx) => {
  const { everyMs, minEvents, releaseFile, maxSeconds, cleanupMs } = ctx.config;
  let n = 0;
  const beat = (what: string): void => {
    n++;
    ctx.log.info(what, { n });
    console.log(`${what} ${n}`);
  };
  const maxBeats = minEvents + Math.ceil((maxSeconds * 1000) / everyMs);
  for (let i = 0; i < maxBeats && !ctx.signal.aborted; i++) {
    beat('drip');
    if (n >= minEvents && (!releaseFile || existsSync(releaseFile))) return n;
    await sleep(everyMs, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
  if (!ctx.signal.aborted)
    throw new Error(`drip was not released within ${maxSeconds} s (${releaseFile ?? 'no file'})`);
  console.log(TERMINATION_RECEIVED);
  const cleanupBeats = Math.ceil(cleanupMs / everyMs);
  for (let i = 0; i < cleanupBeats; i++) {
    beat('cleanup');
    await sleep(everyMs);
  }
  throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('drip terminated');
});

const drip = job({ name: 'drip', description: 'Drips events until released (fault suite).', ops: [dripOp] });

// Six fields: croner reads the first as seconds.
const dripEvery3s = schedule({ name: 'drip_every_3s', cron: '*/3 * * * * *', job: drip });

export default defineLocation({ name: 'faults', jobs: [drip], schedules: [dripEvery3s] });
