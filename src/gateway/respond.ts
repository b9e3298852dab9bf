import type { ServerResponse } from 'node:http';
import { StoreError, NotFoundError, InvalidArgumentError } from '../store/core/errors.js';
import { S3Error } from './errors.js';
import { BackendCircuitOpen } from './routing/backend-router.js';
import { isBackendFailure } from './routing/circuit-breaker.js';
import { xmlDocument, type XmlObject } from './xml.js';

export function sendXml(res: ServerResponse, status: number, root: string, body: XmlObject | string, headers: Record<string, string> = {}): void {
  const text = xmlDocument(root, body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

/**
 * Maps a store error to the S3 error a client expects. Only store errors with a known meaning are
 * translated; anything else is an InternalError whose detail stays in the log.
 */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof StoreError) {
    switch (err.code) {
      case 'NotFound': {
        const resource = (err as NotFoundError).resource;
        if (resource === 'bucket') return new S3Error('NoSuchBucket', undefined, { cause: err });
        if (resource === 'upload') return new S3Error('NoSuchUpload', undefined, { cause: err });
        return new S3Error('NoSuchKey', undefined, { cause: err });
      }
      case 'NoSpace':
        return new S3Error('InsufficientStorage', undefined, { cause: err });
      case 'PreconditionFailed':
        return new S3Error('PreconditionFailed', undefined, { cause: err });
      case 'InvalidArgument': {
        const field = (err as InvalidArgumentError).field;
        // The store's messages name the field and the rule; they hold no internal detail.
        return new S3Error('InvalidArgument', err.message, { cause: err, extra: { ArgumentName: field } });
      }
      case 'DatabaseBusy':
        return new S3Error('SlowDown', undefined, { cause: err, headers: { 'Retry-After': '1' } });
      case 'DatabaseUnavailable':
        return new S3Error('ServiceUnavailable', 'The metadata database is unavailable; please retry.', { cause: err, headers: { 'Retry-After': '5' } });
      default:
        break;
    }
  }
  // A backend that failed where no other could take over: a retry may well succeed.
  if (err instanceof BackendCircuitOpen || isBackendFailure(err)) {
    return new S3Error('ServiceUnavailable', 'The storage behind this gateway failed; please retry.', { cause: err, headers: { 'Retry-After': '5' } });
  }
  return new S3Error('InternalError', undefined, { cause: err });
}

/** Writes the S3 error document (no body for HEAD, as S3). */
export function sendError(res: ServerResponse, err: S3Error, method: string, resource: string, requestId: string): void {
  const headers: Record<string, string> = { ...(err.options.headers ?? {}) };
  if (method === 'HEAD' || err.status === 304) {
    res.writeHead(err.status, { ...headers, 'Content-Length': 0 });
    res.end();
    return;
  }
  sendXml(res, err.status, 'Error', { Code: err.code, Message: err.message, ...(err.options.extra ?? {}), Resource: resource, RequestId: requestId }, headers);
}
