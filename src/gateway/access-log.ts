import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logging.js';

/**
 * One JSON line per S3 request, at info (spec gateway.md §6). The fields are chosen, never copied
 * from the request: no URL or query string (a presigned URL carries X-Amz-Credential and
 * X-Amz-Signature), no header (Authorization holds the signature), so neither a signature nor a
 * secret can reach the log. The access key id identifies the caller and is not a secret.
 */
export interface AccessLogEntry {
  readonly requestId: string;
  readonly method: string;
  /** The S3 operation; absent when the request was refused before it was routed (bad signature, admission). */
  readonly operation: string | undefined;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly status: number;
  /** The S3 error code of a failed request. */
  readonly errorCode: string | undefined;
  /** Request body bytes received (as sent on the wire, aws-chunked framing included). */
  readonly bytesIn: number;
  /** Response body bytes sent. */
  readonly bytesOut: number;
  /** Milliseconds from the request headers to the end of the response. */
  readonly ms: number;
  readonly accessKeyId: string | undefined;
  readonly remoteAddress: string | undefined;
  /** False when the response did not end normally (the client left, or the connection was cut). */
  readonly completed: boolean;
}

export function logAccess(logger: Logger, entry: AccessLogEntry): void {
  const line: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(entry)) if (value !== undefined) line[name] = value;
  logger.info(line, 'request');
}

/**
 * Counts the body bytes of one request and its response without reading either: the request's
 * bytes as node:http's parser pushes them into the stream (a 'data' listener would switch the stream
 * to flowing mode before the operation decides to read it), the response's as they are written.
 */
export function countBytes(req: IncomingMessage, res: ServerResponse): { readonly bytesIn: number; readonly bytesOut: number } {
  const counts = { bytesIn: 0, bytesOut: 0 };
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk !== null && chunk !== undefined) counts.bytesIn += lengthOf(chunk, encoding);
    return push(chunk, encoding);
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    counts.bytesOut += lengthOf(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') counts.bytesOut += lengthOf(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
  return counts;
}

function lengthOf(chunk: unknown, encoding: BufferEncoding | undefined): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, encoding);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
