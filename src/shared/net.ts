// Loopback port helpers.
import { createServer } from 'node:net';
import { OutpostError } from './errors.js';

/** A port that was free a moment ago on `host` (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Throws PORT_IN_USE naming `flag` when `port` is taken on `host`. */
export function assertPortFree(port: number, host: string, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new OutpostError('PORT_IN_USE', { detail: `${host}:${port} is taken; choose another with ${flag}` }));
      } else reject(err);
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}
