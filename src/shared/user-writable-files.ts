// How the agent opens a file in a directory user code can write (a run's or a standby's spool,
// bound into its sandbox): user code may have put a symlink there (to a file only the agent can
// read or write, its token for one) or a FIFO (which would block the agent's event loop). Every
// such open adds these flags, so neither is followed nor waited on; the caller then accepts a
// regular file only (fstat). A look before the open (regularFileSize) does not follow a link either.
import { constants, lstatSync, type Stats } from 'node:fs';

export const NO_LINK_NO_WAIT = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * What stands at `file`, a link not followed: a regular file's size; 'other' for anything else
 * there (a symlink, a FIFO or a directory user code put in its place); undefined when nothing is
 * there, or it cannot be looked at. One lstat, no open: the cheap first look before a read.
 */
export function regularFileSize(file: string): number | 'other' | undefined {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch {
    return undefined;
  }
  return st.isFile() ? st.size : 'other';
}
