// Loopback port helpers.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { OutpostError } from './errors.js';

/**
 * A port that was free a moment ago on `host`. It is picked below the kernel's ephemeral range
 * (Linux: /proc/sys/net/ipv4/ip_local_port_range), because a port the OS hands out for `listen(0)`
 * comes from that range and any outgoing connection may take it before the caller binds it again;
 * on a busy host that race made stacks fail at start with PORT_IN_USE. Falls back to the OS's
 * choice when no port below the range is free after a few tries.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [low] = ephemeralRange();
  const floor = 10_000;
  if (low - floor > 1_000) {
    for (let i = 0; i < 20; i++) {
      const candidate = floor + Math.floor(Math.random() * (low - floor));
      if (await canListen(candidate, host)) return candidate;
    }
  }
  return listenAndClose(0, host);
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49_152, 65_535];
}

function canListen(port: number, host: string): Promise<boolean> {
  return listenAndClose(port, host).then(
    () => true,
    () => false,
  );
}

function listenAndClose(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
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
