import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logging.js';
import { xmlDocument } from './xml.js';

/**
 * What node:http's parser reports before a request can be answered normally (a malformed head, a
 * head too large, a head that never finished, a body cut short by a half-close): answered as an S3
 * error document instead of Node's bare status line, then the connection closes. Node's own rule
 * is kept: a connection already answering (headers sent) or no longer writable is only destroyed.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, requestId: string, logger: Logger): void {
  const attached = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || attached?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, code, message] = describe(err.code);
  logger.debug({ requestId, code: err.code, answer: code }, 'malformed or unfinished request: answered and closed');
  const body = xmlDocument('Error', { Code: code, Message: message, RequestId: requestId });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/xml\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-amz-request-id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
    // The server keeps sockets half-open: after the answer is flushed, close it whatever the client does.
    () => socket.destroy(),
  );
}

function describe(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      // Node's status for a head that did not arrive within server.header_timeout.
      return [408, 'RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period.'];
    case 'HPE_HEADER_OVERFLOW':
      return [400, 'RequestHeaderSectionTooLarge', 'Your request header section exceeds the maximum allowed size.'];
    case 'HPE_INVALID_EOF_STATE':
      return [400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.'];
    default:
      return [400, 'BadRequest', 'The request could not be read as HTTP/1.1.'];
  }
}
