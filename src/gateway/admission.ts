import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Admission control and the slow-client timeouts (spec gateway.md §6).
 *
 * Admission: at most `max` S3 requests are served at once; one more is answered 503 SlowDown with
 * Retry-After before a byte of its body is read (server.ts). A slot is held until both the response
 * is over and the operation has returned (an operation may still be aborting an intent after its
 * client left, and that work holds a database connection too).
 */
export class AdmissionControl {
  #inFlight = 0;

  constructor(readonly max: number) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** A slot, or undefined when all are taken. The release function is idempotent. */
  tryAcquire(): (() => void) | undefined {
    if (this.#inFlight >= this.max) return undefined;
    this.#inFlight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight -= 1;
    };
  }
}

export interface StallLimits {
  /** The body sends no byte for this long while the gateway waits for it: the connection is closed. */
  readonly bodyTimeoutMs: number;
  /** The response cannot be written for this long because the client does not read: the connection is closed. */
  readonly idleTimeoutMs: number;
}

export type StallReason = 'body_timeout' | 'idle_timeout';

/**
 * Watches one request for a stalled client. The clock runs only while the gateway waits on the
 * client: while it reads a body the client stopped sending (and it is not itself holding the body
 * back because a backend is slow: backpressure pauses the request stream), or while a response
 * cannot be written because the client stopped reading. Time the gateway spends on its own work
 * (the database, a backend) never counts. Progress is measured on the socket, so any byte resets it.
 *
 * On a stall the socket is destroyed: the operation sees its body end early (IncompleteBody) or its
 * response fail, and aborts its write intent as for a client that disconnected.
 */
export function watchForStalls(req: IncomingMessage, res: ServerResponse, limits: StallLimits, onStall: (reason: StallReason) => void): () => void {
  const socket = req.socket;
  // The body clock starts when the operation starts reading the body (pipe() resumes the stream).
  let bodyWanted = false;
  const onResume = () => (bodyWanted = true);
  req.on('resume', onResume);
  let lastRead = socket.bytesRead;
  let lastWritten = socket.bytesWritten;
  let waitingSince: number | undefined;
  const tickMs = Math.max(20, Math.min(1000, Math.floor(Math.min(limits.bodyTimeoutMs, limits.idleTimeoutMs) / 5)));
  const timer = setInterval(() => {
    if (socket.destroyed) return stop();
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    const progressed = read !== lastRead || written !== lastWritten;
    lastRead = read;
    lastWritten = written;
    let waiting: StallReason | undefined;
    if (res.writableNeedDrain) waiting = 'idle_timeout';
    else if (bodyWanted && !req.complete && !req.isPaused() && req.readableLength < req.readableHighWaterMark) waiting = 'body_timeout';
    const now = Date.now();
    if (waiting === undefined || progressed) {
      waitingSince = waiting === undefined ? undefined : now;
      return;
    }
    waitingSince ??= now;
    const limit = waiting === 'body_timeout' ? limits.bodyTimeoutMs : limits.idleTimeoutMs;
    if (now - waitingSince >= limit) {
      stop();
      onStall(waiting);
      socket.destroy();
    }
  }, tickMs);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
    req.off('resume', onResume);
  }
  return stop;
}
