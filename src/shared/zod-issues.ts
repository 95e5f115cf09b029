// The one way a zod validation failure becomes text: `path.to.field: message`, issues joined by
// "; ", an issue about the value as a whole labelled `(root)`. Works for zod v3 and zod/v4
// errors alike (both carry `issues` with `path` and `message`), so the SDK uses it too.

/** The part of a zod issue the text is made of. */
export interface ZodIssueLike {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/** Where an issue sits: dotted path, or `(root)` for the value itself. */
export function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.length ? path.map(String).join('.') : '(root)';
}

/** One line per issue: `path: message`. */
export function zodIssueLines(err: { readonly issues: ReadonlyArray<ZodIssueLike> }): string[] {
  return err.issues.map((i) => `${issuePath(i.path)}: ${i.message}`);
}

/** All issues on one line (for an error's detail). */
export function formatZodIssues(err: { readonly issues: ReadonlyArray<ZodIssueLike> }): string {
  return zodIssueLines(err).join('; ');
}
