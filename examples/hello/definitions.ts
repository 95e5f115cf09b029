// The example code location that `outpost dev` deploys. Read it as a tour of the SDK.
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod/v4';
import { defineLocation, job, op, schedule, sensor, staticPartitions } from 'outpost/sdk';

// --- hello: three ops in a chain; the last prints to stdout (captured in the run's stdout.log).
const who = op({ name: 'who', description: 'Who to greet' }, () => 'outpost');

const greeting = op({ name: 'greeting', ins: { name: who } }, (ctx, { name }) => {
  ctx.log.info('composing greeting', { name });
  return `hello from ${name}`;
});

const say = op({ name: 'say', ins: { text: greeting }, tags: { kind: 'io' } }, (ctx, { text }) => {
  console.log(text);
  ctx.addOutputMetadata({ characters: text.length });
  return text;
});

const hello = job({
  name: 'hello',
  description: 'Prints "hello from outpost".',
  tags: { team: 'examples' },
  ops: [who, greeting, say],
});

// --- sleepy: sleeps for `seconds`, and stops at once when the run is terminated.
const nap = op({ name: 'nap', config: z.object({ seconds: z.number().min(0).default(5) }) }, async (ctx) => {
  ctx.log.info('sleeping', { seconds: ctx.config.seconds });
  await sleep(ctx.config.seconds * 1000, undefined, { signal: ctx.signal });
  return ctx.config.seconds;
});
const sleepy = job({ name: 'sleepy', description: 'Sleeps, honoring termination.', ops: [nap] });

// --- chatty: logs `events` LOG events (used by the ingest benchmark).
const chatter = op(
  { name: 'chatter', config: z.object({ events: z.number().int().min(0).max(10_000_000).default(100) }) },
  (ctx) => {
    for (let i = 0; i < ctx.config.events; i++) ctx.log.info('chatter', { i });
    return ctx.config.events;
  },
);
const chatty = job({ name: 'chatty', description: 'Logs many events.', ops: [chatter] });

// --- fail: raises an error, so the run fails with its stack.
const explode = op({ name: 'explode' }, () => {
  throw new Error('this op always fails');
});
const fail = job({ name: 'fail', description: 'Always fails.', ops: [explode] });

// --- noop: one op that does nothing (the dispatch benchmark's job).
const noop = job({ name: 'noop', ops: [op({ name: 'nothing' }, () => undefined)] });

// --- greet_region: a partitioned job; each partition key becomes the run config.
const regions = staticPartitions({ name: 'regions', keys: ['eu', 'us', 'apac'] });
const greetRegion = op({ name: 'greet_region', config: z.object({ region: z.string() }) }, (ctx) => {
  // Printed, so a partition's config is visible in the run's stdout.
  const text = `hello ${ctx.config.region}`;
  console.log(text);
  return text;
});
const greet_region = job({
  name: 'greet_region',
  ops: [greetRegion],
  partitions: regions,
  partitionConfig: (key) => ({ region: key }),
  partitionTags: (key) => ({ region: key }),
});

const every_minute = schedule({
  name: 'every_minute',
  cron: '* * * * *',
  job: hello,
  description: 'Says hello every minute.',
});

// One run per new file in the inbox; the cursor is the last file name seen (names sort).
const inbox = (): string => process.env.OUTPOST_FILE_SENSOR_DIR ?? '.outpost/sensor-inbox';
const file_sensor = sensor({
  name: 'file_sensor',
  job: hello,
  minIntervalSeconds: 30,
  description: 'Requests a hello run per new file in $OUTPOST_FILE_SENSOR_DIR.',
  evaluate: ({ cursor }) => {
    let files: string[];
    try {
      files = readdirSync(inbox()).sort();
    } catch {
      return { skipReason: `inbox ${inbox()} does not exist` };
    }
    const fresh = files.filter((f) => cursor === undefined || f > cursor);
    if (!fresh.length) return { skipReason: 'no new files' };
    return {
      runRequests: fresh.map((f) => ({ runKey: f, tags: { file: f } })),
      cursor: fresh[fresh.length - 1],
    };
  },
});

export default defineLocation({
  name: 'hello',
  jobs: [hello, sleepy, chatty, fail, noop, greet_region],
  schedules: [every_minute],
  sensors: [file_sensor],
});
