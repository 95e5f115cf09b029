// A file a CLI flag names (--token-file, --env-file): read whole, or refused with one coded error
// that says why, where it was looked for, and what the flag wants.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OutpostError } from '../shared/errors.js';

/** `file`'s text; CONFIG_INVALID naming `flag` when it cannot be read (`wants`: what to pass instead). */
export function readFlagFile(flag: string, file: string, wants: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (code ?? String(err));
    throw new OutpostError('CONFIG_INVALID', { detail: `${flag} ${file}: ${why} (${resolve(file)}); pass ${wants}` });
  }
}
