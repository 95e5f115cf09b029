// Reaching Temporal at agent start, within a deadline: a frontend that accepts the TCP connection
// but never answers (frozen, or a proxy whose backend is gone) held the agent's start forever,
// in NativeConnection.connect (which has no timeout) and in any call without a deadline.
// Failures that mean "Temporal is not there" become TEMPORAL_UNAVAILABLE, naming the address.
import { status as grpcStatus } from '@grpc/grpc-js';
import { OutpostError, errorLogFields, isOutpostError } from '../shared/errors.js';
import { backoffDelay, sleep } from '../shared/backoff.js';
import type { Logger } from '../shared/logger.js';

/** How long the agent's start waits for each answer from Temporal (connect, then the checks). */
export const TEMPORAL_START_DEADLINE_MS = 15_000;

/** gRPC codes of a server not reached or not answering, as opposed to one that said no. */
const UNREACHED = new Set<number>([grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED]);

/**
 * The coded error for `err` when it means Temporal was not reached or did not answer in time
 * (gRPC UNAVAILABLE or DEADLINE_EXCEEDED, the SDK's TransportError, connect or call deadline), else
 * undefined. `what` names the call, for the detail.
 */
export function temporalUnavailable(err: unknown, address: string, what: string): OutpostError | undefined {
  if (err instanceof OutpostError) return err.errorName === 'TEMPORAL_UNAVAILABLE' ? err : undefined;
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // The native client reports a failed TLS handshake as a TransportError too: not a Temporal that
  // is away, a configuration that no retry fixes (connectWithin throws it as TEMPORAL_TLS_FAILED).
  if (isTlsFailure(message)) return undefined;
  const unreached =
    (typeof e?.code === 'number' && UNREACHED.has(e.code)) ||
    e?.name === 'TransportError' ||
    // The client's connect deadline; the native bridge's call deadline (it reports code CANCELLED).
    /Failed to connect before the deadline|^Timeout expired$/.test(message);
  if (!unreached) return undefined;
  return new OutpostError('TEMPORAL_UNAVAILABLE', {
    detail: `${what} at ${address}: ${message}`,
    cause: err,
    data: { address },
  });
}

/**
 * Whether a connect error's message is a TLS handshake failure, as the native client (rustls under
 * tonic) words it: a server certificate no trusted CA signed or for another name, an alert from the
 * server (it wanted a client certificate, or refused ours), TLS spoken to a plaintext frontend
 * (its answer is no TLS record: InvalidContentType / CorruptMessage), or a frontend that speaks no
 * HTTP/2 over TLS.
 */
export function isTlsFailure(message: string): boolean {
  return /InvalidCertificate|invalid peer certificate|UnknownIssuer|NotValidForName|BadSignature|AlertReceived|received fatal alert|HandshakeFailure|CertificateRequired|InvalidContentType|CorruptMessage|InvalidMessage|PeerIncompatible|PeerMisbehaved|NoApplicationProtocol|tls handshake|certificate verify failed/i.test(
    message,
  );
}

/**
 * `connect()` within `deadlineMs`, else TEMPORAL_UNAVAILABLE. A connection that arrives after
 * the deadline is closed, not leaked.
 */
export async function connectWithin<C>(
  address: string,
  connect: () => Promise<C>,
  close: (c: C) => Promise<void>,
  deadlineMs = TEMPORAL_START_DEADLINE_MS,
): Promise<C> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const attempt = connect();
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(
        new OutpostError('TEMPORAL_UNAVAILABLE', {
          detail: `connecting to ${address}: no answer within ${deadlineMs} ms`,
          data: { address },
        }),
      );
    }, deadlineMs);
  });
  attempt.then(
    (c) => (late ? close(c).catch(() => undefined) : undefined),
    () => undefined,
  );
  try {
    return await Promise.race([attempt, expired]);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!(err instanceof OutpostError) && isTlsFailure(message)) {
      throw new OutpostError('TEMPORAL_TLS_FAILED', {
        detail: `connecting to ${address}: ${message}`,
        cause: err,
        data: { address },
      });
    }
    throw temporalUnavailable(err, address, 'connecting') ?? err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `step()` (connect, then the start's checks) again while it fails with TEMPORAL_UNAVAILABLE,
 * each failure logged with its code and the next try (backoff capped at 2 s), until `signal`
 * aborts: an agent started while Temporal is down (restarting with it, not up yet) waits for
 * it, as it waits for its control plane at registration, instead of exiting. Any other failure
 * (TEMPORAL_TLS_FAILED, a namespace without Outpost's search attributes) is thrown at once.
 */
export async function whenTemporalAnswers<T>(
  address: string,
  step: () => Promise<T>,
  log: Logger,
  signal: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isOutpostError(err, 'TEMPORAL_UNAVAILABLE') || signal.aborted) throw err;
      const delay = backoffDelay(attempt, { initialMs: 500, maxMs: 2_000 });
      log.warn({ ...errorLogFields(err), address, retryInMs: delay }, 'Temporal not reached; retrying');
      await sleep(delay, signal);
      if (signal.aborted) throw err;
    }
  }
}
