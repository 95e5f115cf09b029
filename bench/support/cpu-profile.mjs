// Preload for `--cpu-prof`-style profiles of child processes (Node 20 refuses --cpu-prof in
// NODE_OPTIONS, but accepts --import). Active only when OUTPOST_CPU_PROFILE_DIR is set:
// records this process's pid and argv there, and on each SIGWINCH toggles the V8 sampling
// profiler; stopping writes <dir>/<pid>.cpuprofile (Chrome DevTools format). A benchmark sends
// SIGWINCH (ignored by default; Temporal's Runtime takes SIGUSR2 as a shutdown signal) to every recorded pid around the window it wants profiled.
//   NODE_OPTIONS="--import /abs/path/bench/support/cpu-profile.mjs" OUTPOST_CPU_PROFILE_DIR=/tmp/p ...
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.OUTPOST_CPU_PROFILE_DIR;
// Worker threads (Temporal's workflow thread) load it too, but signals reach only the main thread.
if (dir && isMainThread) {
  writeFileSync(join(dir, `${process.pid}.argv`), JSON.stringify(process.argv));
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGWINCH', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
