// Role checks and the audit trail for the user API. Every mutation resolver goes through
// `audited`: the caller's role is checked against core/roles.ts, and the outcome (ok, the
// refusal or the failure code) is written to the audit log whatever happens.
import { OutpostError, errorCode } from '../../shared/errors.js';
import { can, requiredRole, type UserRole } from '../core/roles.js';
import { recordAudit } from '../store/audit-log.js';
import type { ApiContext } from './context.js';

/** The caller's role: user tokens have one; anything else is treated as the least. */
export const roleOf = (ctx: Pick<ApiContext, 'principal'>): UserRole => ctx.principal.role ?? 'VIEWER';

/** Throws ROLE_REQUIRED unless the caller may take `action`. */
export function requireRole(ctx: Pick<ApiContext, 'principal'>, action: string): void {
  const role = roleOf(ctx);
  if (!can(role, action)) {
    const required = requiredRole(action);
    throw new OutpostError('ROLE_REQUIRED', {
      detail: `${action} needs ${required}; this token is ${role}`,
      data: { required, role },
    });
  }
}

type Resolver<A, R> = (parent: unknown, args: A, ctx: ApiContext) => Promise<R> | R;

/** Wraps a mutation resolver: a unit of the token's request rate, role check, then one audit row with the outcome. */
export function audited<A, R>(action: string, target: (args: A) => string | null, fn: Resolver<A, R>): Resolver<A, R> {
  return async (parent, args, ctx) => {
    // Before the audit row: a token past its rate writes none (http/request-budget.ts).
    ctx.requestBudget?.take(ctx.principal.id);
    let outcome = 'ok';
    let tgt: string | null = null;
    try {
      tgt = target(args);
      requireRole(ctx, action);
      return await fn(parent, args, ctx);
    } catch (err) {
      outcome = err instanceof OutpostError ? err.code : errorCode('INTERNAL');
      throw err;
    } finally {
      await recordAudit(ctx.store, {
        actorTokenId: ctx.principal.id,
        actor: ctx.principal.name,
        action,
        target: tgt,
        outcome,
      });
    }
  };
}

/** Wraps a query resolver that only some roles may read (no audit row: reads are not audited). */
export function restricted<A, R>(action: string, fn: Resolver<A, R>): Resolver<A, R> {
  return (parent, args, ctx) => {
    requireRole(ctx, action);
    return fn(parent, args, ctx);
  };
}
