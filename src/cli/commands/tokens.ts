// `outpost tokens create|list|revoke`. A created token is shown once and never again.
import type { Command } from 'commander';
import { OutpostError } from '../../shared/errors.js';
import { type ClientOptions, userApi, withClientOptions } from '../client.js';
import { printTable, runAction } from '../output.js';

interface TokenRow {
  id: string;
  kind: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt?: number | null;
  role?: string | null;
  replaces?: string | null;
}

export function registerTokensCommand(program: Command): void {
  const tokens = program.command('tokens').description('Create, list and revoke API tokens');

  withClientOptions(
    tokens
      .command('create')
      .description('Create a token (printed once: store it now)')
      .requiredOption('--name <name>', 'a label, e.g. the agent host')
      .option('--kind <kind>', 'user (opens /graphql) or agent (opens /agent/graphql)', 'user')
      .option('--role <role>', 'user tokens: viewer, launcher, editor or admin (default viewer)')
      .option(
        '--replaces <token id>',
        "agent tokens: succeed this agent token, taking over its agents' ids when they restart with the new one (rotation)",
      )
      .option('--raw', 'print only the token (for scripts)'),
  ).action((opts: ClientOptions & { name: string; kind: string; role?: string; replaces?: string; raw?: boolean }) =>
    runAction(opts, async () => {
      const kind = opts.kind.toUpperCase();
      if (kind !== 'USER' && kind !== 'AGENT')
        throw new OutpostError('INVALID_ARGUMENT', { detail: '--kind must be user or agent' });
      const role = opts.role?.toUpperCase() ?? null;
      if (role !== null && !['VIEWER', 'LAUNCHER', 'EDITOR', 'ADMIN'].includes(role))
        throw new OutpostError('INVALID_ARGUMENT', { detail: '--role must be viewer, launcher, editor or admin' });
      if (opts.replaces && kind !== 'AGENT')
        throw new OutpostError('INVALID_ARGUMENT', { detail: '--replaces is for agent tokens (--kind agent)' });
      const api = userApi(opts);
      const res = await api.request<{ createToken: { token: string; id: string; role: string | null } }>(
        `mutation($kind: TokenKind!, $name: String!, $role: UserRole, $replaces: ID) {
          createToken(kind: $kind, name: $name, role: $role, replaces: $replaces) { id token role }
        }`,
        { kind, name: opts.name, role, replaces: opts.replaces ?? null },
      );
      const { id, token } = res.createToken;
      const shownRole = res.createToken.role ? ` ${res.createToken.role}` : '';
      return {
        data: { id, kind, name: opts.name, role: res.createToken.role, replaces: opts.replaces ?? null, token },
        text: () =>
          opts.raw
            ? token
            : `created ${kind.toLowerCase()}${shownRole.toLowerCase()} token ${id} (${opts.name})${
                opts.replaces ? `, successor of ${opts.replaces}` : ''
              }; it is shown only once:\n${token}`,
      };
    }),
  );

  withClientOptions(tokens.command('list').description('List tokens (never their values)')).action(
    (opts: ClientOptions) =>
      runAction(opts, async () => {
        const api = userApi(opts);
        const res = await api.request<{ tokens: TokenRow[] }>(
          `{ tokens { id kind name role replaces createdAt revokedAt } }`,
        );
        return {
          data: res.tokens,
          text: () =>
            printTable(
              ['ID', 'KIND', 'NAME', 'ROLE', 'REPLACES', 'CREATED', 'REVOKED'],
              res.tokens.map((t) => [
                t.id,
                t.kind,
                t.name,
                t.role ?? '',
                t.replaces ?? '',
                new Date(t.createdAt).toISOString(),
                t.revokedAt ? new Date(t.revokedAt).toISOString() : '',
              ]),
            ),
        };
      }),
  );

  withClientOptions(tokens.command('revoke <id>').description('Revoke a token at once')).action(
    (id: string, opts: ClientOptions) =>
      runAction(opts, async () => {
        const api = userApi(opts);
        await api.request(`mutation($id: ID!) { revokeToken(id: $id) { id } }`, { id });
        return { data: { id, revoked: true }, text: () => `revoked ${id}` };
      }),
  );
}
