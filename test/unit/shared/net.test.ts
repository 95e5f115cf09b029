// freePort picks a listening port outside the kernel's ephemeral range, so an outgoing
// connection cannot take it between the pick and the caller's bind (seen as PORT_IN_USE at the
// start of e2e stacks on a busy host).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../src/shared/net.js';

const range = (() => {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
})();

test(
  'freePort answers ports below the ephemeral range that can be bound',
  { skip: range ? false : 'not Linux: no /proc/sys/net/ipv4/ip_local_port_range' },
  async () => {
    for (let i = 0; i < 10; i++) {
      const port = await freePort();
      assert.ok(port >= 1024 && port < range![0]!, `port ${port} is inside the ephemeral range ${range!.join('-')}`);
      await new Promise<void>((resolve, reject) => {
        const srv = createServer().once('error', reject);
        srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
      });
    }
  },
);
