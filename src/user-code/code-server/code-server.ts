// The code server: loads one definitions module and serves CodeServerService on 127.0.0.1.
// A module that fails to load still serves (GetDefinitions/GetServerInfo carry the load error),
// so the agent reports the error instead of watching a crash loop.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CodeServerServiceService } from '../../gen/outpost/codeserver/v1/code_server.js';
import type { Logger } from '../../shared/logger.js';
import type { LocationDef } from '../sdk/definitions.js';
import { codeServerHandlers, type LoadedLocation } from './code-server-handlers.js';
import { DEFAULT_LOAD_TIMEOUT_MS, loadLocation } from '../common/load-location.js';
import { makeConfigJsonSchemas } from './config-json-schema.js';

export interface CodeServerOptions {
  /** Path to the definitions module (TypeScript under tsx, or JS). */
  module: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1: the agent is the only client. */
  host?: string;
  /** Location name to report. Default: the module's `defineLocation({ name })`, else `default`. */
  locationName?: string;
  /** Bound on every call into user code (schedules, sensors, partitions). Default 30000 ms. */
  callTimeoutMs?: number;
  /** Bound on importing the module. Default 30000 ms (the agent waits 60 s for READY). */
  loadTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

export interface RunningCodeServer {
  port: number;
  host: string;
  serverId: string;
  /** Undefined when the module loaded. */
  loadError: unknown;
  location: LocationDef | undefined;
  /** Stops accepting calls, lets in-flight calls finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export async function startCodeServer(opts: CodeServerOptions): Promise<RunningCodeServer> {
  const serverId = randomUUID();
  const startedAtMs = Date.now();
  const host = opts.host ?? '127.0.0.1';
  let location: LocationDef | undefined;
  let loadError: unknown;
  try {
    const loaded = await loadLocation(opts.module, opts.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS);
    makeConfigJsonSchemas(loaded);
    location = loaded;
  } catch (err) {
    loadError = err;
    opts.logger?.error({ err, module: opts.module }, 'definitions module failed to load; serving the load error');
  }
  const state: LoadedLocation = {
    serverId,
    startedAtMs,
    module: resolve(opts.module),
    locationName: opts.locationName ?? location?.name ?? 'default',
    location,
    loadError,
    callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    now: opts.now ?? Date.now,
  };
  const server = new Server();
  server.addService(CodeServerServiceService, codeServerHandlers(state));
  const port = await new Promise<number>((res, rej) => {
    server.bindAsync(`${host}:${opts.port ?? 0}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? rej(err) : res(bound),
    );
  });
  opts.logger?.info({ port, host, serverId, location: state.locationName }, 'code server listening');
  return {
    port,
    host,
    serverId,
    loadError,
    location,
    close: (graceMs = 5_000) =>
      new Promise<void>((res) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          res();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          res();
        });
      }),
  };
}
