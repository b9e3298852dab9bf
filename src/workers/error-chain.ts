/**
 * An error with every cause under it on one line: `fetch failed: connect ECONNREFUSED 127.0.0.1:9`
 * rather than fetch's bare `fetch failed`. A cause whose message the outer one already contains is
 * not repeated; an AggregateError (a connection tried on several addresses) lists its errors.
 */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current) && parts.length < 10) {
    seen.add(current);
    const message = ownMessage(current);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}

function ownMessage(err: unknown): string {
  if (err instanceof AggregateError) {
    const inner = [...new Set(err.errors.map((e) => errorChain(e)))].join('; ');
    return err.message && inner ? `${err.message} (${inner})` : err.message || inner;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
