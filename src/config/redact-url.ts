/** `postgres://app:s3cret@db/x` → `postgres://app:[redacted]@db/x`. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '[redacted]';
    return url.toString().replace('%5Bredacted%5D', '[redacted]');
  } catch {
    // Not parseable: we cannot tell which part is the password, so show none of it.
    return '(unparseable URL, not shown)';
  }
}
