// At agent start: does the namespace know Outpost's search attributes? Without them Temporal
// refuses every workflow start the poller makes, and each claimed item would wait on retries.
// A namespace that lacks one (or has it with another type) stops the start with a coded error
// naming what to register. A cluster that will not tell (the operator API denied or absent, e.g. a
// namespace-scoped key) is not a verdict: the agent starts and the poller's retries say why.
// A cluster that does not answer within the deadline, or is not there, is TEMPORAL_UNAVAILABLE.
import { isGrpcServiceError, type Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { status as grpcStatus } from '@grpc/grpc-js';
import protos from '@temporalio/proto';
import { SA_NAMES } from '../shared/search-attribute-names.js';
import { OutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { TEMPORAL_START_DEADLINE_MS, temporalUnavailable } from './temporal-reach.js';

const KEYWORD = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** Codes that mean "cannot look", not "not there". */
const CANNOT_LOOK = new Set<number>([
  grpcStatus.PERMISSION_DENIED,
  grpcStatus.UNIMPLEMENTED,
  grpcStatus.UNAUTHENTICATED,
]);

export async function checkSearchAttributes(
  connection: Connection | NativeConnection,
  namespace: string,
  log: Logger,
  /** Where the connection goes, for the error's detail. */
  address: string,
  /** How long to wait for the answer. Default TEMPORAL_START_DEADLINE_MS (15 s). */
  deadlineMs = TEMPORAL_START_DEADLINE_MS,
): Promise<void> {
  let custom: Record<string, number>;
  try {
    const answer = await connection.withDeadline(Date.now() + deadlineMs, () =>
      connection.operatorService.listSearchAttributes({ namespace }),
    );
    custom = answer.customAttributes ?? {};
  } catch (err) {
    const unreached = temporalUnavailable(err, address, `listing the search attributes of namespace ${namespace}`);
    if (unreached) throw unreached;
    const code = isGrpcServiceError(err) ? err.code : (err as { code?: unknown }).code;
    if (code === grpcStatus.NOT_FOUND) {
      throw new OutpostError('CONFIG_INVALID', {
        detail: `--temporal-namespace: Temporal has no namespace ${namespace} (${(err as Error).message})`,
        cause: err,
      });
    }
    if (typeof code === 'number' && CANNOT_LOOK.has(code)) {
      log.warn(
        { namespace, err: (err as Error).message },
        "could not list the namespace's search attributes; starting without checking them",
      );
      return;
    }
    throw err;
  }
  const wrong = Object.values(SA_NAMES).filter((name) => custom[name] !== KEYWORD);
  if (!wrong.length) return;
  throw new OutpostError('TEMPORAL_SEARCH_ATTRIBUTES_MISSING', {
    detail: `namespace ${namespace} lacks ${wrong
      .map((name) => (custom[name] === undefined ? name : `${name} (registered with another type)`))
      .join(', ')}`,
    data: { namespace, missing: wrong },
  });
}
