// `outpost signin-link`: a fresh one-time browser sign-in link for the caller's user token,
// for when the link `outpost dev` printed has expired or was used. The code sits in the URL
// fragment, works once and for minutes; the token itself is never printed.
import type { Command } from 'commander';
import { type ClientOptions, userApi, withClientOptions } from '../client.js';
import { runAction } from '../output.js';

export function registerSignInLinkCommand(program: Command): void {
  withClientOptions(
    program
      .command('signin-link')
      .description('Print a new one-time sign-in link for the UI (expires in minutes, works once)'),
  ).action((opts: ClientOptions) =>
    runAction(opts, async () => {
      const api = userApi(opts);
      const res = await api.request<{ createSignInLink: { path: string; expiresAt: number } }>(
        `mutation { createSignInLink { path expiresAt } }`,
      );
      const url = `${api.url}${res.createSignInLink.path}`;
      const { expiresAt } = res.createSignInLink;
      // stdout carries the link only (scripts pipe it); a person at a terminal also learns its lifetime.
      if (!opts.json && process.stderr.isTTY) {
        const minutes = Math.max(1, Math.round((expiresAt - Date.now()) / 60_000));
        process.stderr.write(`one-time link, expires in ${minutes} min\n`);
      }
      return { data: { url, expiresAt }, text: () => url };
    }),
  );
}
