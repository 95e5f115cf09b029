// How the agent opens a file in a directory user code can write (a run's or a standby's spool,
// bound into its sandbox): user code may have put a symlink there (to a file only the agent can
// read or write, its token for one) or a FIFO (which would block the agent's event loop). Every
// such open adds these flags, so neither is followed nor waited on; the caller then accepts a
// regular file only (fstat).
import { constants } from 'node:fs';

export const NO_LINK_NO_WAIT = constants.O_NOFOLLOW | constants.O_NONBLOCK;
