// A child process writing compute logs through the control plane's SQLite store, for
// sqlite-checkpoint-kills.test.ts. Chunk i (1 MiB) is byte i % 251 throughout, so what is stored
// can be checked byte for byte. Prints one line per fact the test waits for:
//   run <id>                  the run the chunks go to
//   committed <end>           appendComputeLogs returned: bytes [0, end) are committed
//   checkpoint <log> <done>   the checkpoint thread answered
// Modes: `loop` writes until killed (at most 400 MiB); `leave` writes 8 MiB, waits for a
// checkpoint and returns without closing the store (the process must still end on its own).
//   node --import tsx test/faults/support/sqlite-log-writer.ts <db file> <loop|leave>
import { appendComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import type { CheckpointResult } from '../../../src/control-plane/store/dialect/sqlite-checkpointer.js';
import { sqliteCheckpointerOf } from '../../../src/control-plane/store/dialect/sqlite-dialect.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';

export const CHUNK = 1024 * 1024;
export const chunkByte = (i: number): number => i % 251;

async function main(): Promise<void> {
  const [file, mode] = process.argv.slice(2);
  if (!file || (mode !== 'loop' && mode !== 'leave')) throw new Error('usage: sqlite-log-writer.ts <db> <loop|leave>');
  const store = await Store.open({ url: `sqlite:${file}`, limits: { computeLogCapBytes: 1024 * CHUNK } });
  const ckpt = sqliteCheckpointerOf(store.dialect);
  if (!ckpt) throw new Error('no checkpointer on a file database');
  let checkpoints = 0;
  ckpt.on('checkpoint', (r: CheckpointResult) => {
    checkpoints++;
    process.stdout.write(`checkpoint ${r.log} ${r.checkpointed}\n`);
  });
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'loc', job: 'job', runConfig: {}, tags: {} }),
  );
  process.stdout.write(`run ${run.id}\n`);
  const chunks = mode === 'loop' ? 400 : 8;
  for (let i = 0; i < chunks; i++) {
    await appendComputeLogs(store, run.id, 'stdout', i * CHUNK, Buffer.alloc(CHUNK, chunkByte(i)));
    process.stdout.write(`committed ${(i + 1) * CHUNK}\n`);
    // A turn of the event loop between chunks, as a server has between requests: the thread's
    // answers (and the next checkpoint asked for) arrive there.
    await new Promise((r) => setImmediate(r));
  }
  if (mode === 'leave') {
    if (checkpoints === 0) await new Promise((r) => ckpt.once('checkpoint', r));
    process.stdout.write('leaving\n');
  }
}

if (process.argv[1]?.endsWith('sqlite-log-writer.ts')) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
