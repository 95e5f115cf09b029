// Memory of a process tree beyond RSS, from /proc/<pid>/smaps(_rollup) (Linux). RSS counts a
// page in every process that maps it: seven Node processes each count the ~40 MB of the node
// binary they share. PSS divides a shared page among every process that maps it — host-wide, so
// it also depends on unrelated Node processes of the host. `distinctMb` is what the tree would
// hold on a host of its own: every private page once, and each file's shared pages once (the
// largest count any process of the tree has of that file), i.e. its PSS sum if alone.
import { readFileSync } from 'node:fs';

/** Proportional set size of one process, in MB (0 once it has exited). */
export function pssMb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

interface Mapping {
  path: string;
  privateKb: number;
  sharedKb: number;
}

function mappings(pid: number): Mapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return [];
  }
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]".
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      cur = { path: head[1] !== '0' ? head[2]! : '', privateKb: 0, sharedKb: 0 };
      out.push(cur);
      continue;
    }
    const field = /^(Private_Clean|Private_Dirty|Shared_Clean|Shared_Dirty):\s+(\d+) kB/.exec(line);
    if (field && cur) {
      if (field[1]!.startsWith('Private')) cur.privateKb += Number(field[2]);
      else cur.sharedKb += Number(field[2]);
    }
  }
  return out;
}

/** The tree's memory on a host of its own, in MB: private pages summed, each file's shared pages once. */
export function distinctMb(pids: number[]): number {
  let privateKb = 0;
  const sharedByFile = new Map<string, number>();
  for (const pid of pids) {
    const perFile = new Map<string, number>();
    for (const m of mappings(pid)) {
      privateKb += m.privateKb;
      // Anonymous shared pages (shmem) are rare here; counted per process like private ones.
      if (!m.path) privateKb += m.sharedKb;
      else perFile.set(m.path, (perFile.get(m.path) ?? 0) + m.sharedKb);
    }
    for (const [path, kb] of perFile) sharedByFile.set(path, Math.max(sharedByFile.get(path) ?? 0, kb));
  }
  return (privateKb + [...sharedByFile.values()].reduce((s, x) => s + x, 0)) / 1024;
}
