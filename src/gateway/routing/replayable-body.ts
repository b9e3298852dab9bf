import { Readable } from 'node:stream';

/**
 * A request body that can be offered to a second backend when the first fails before it took
 * much of it (spec §5: "a backend that fails before the body is consumed is skipped for the next
 * candidate"). The first `replayBytes` read are kept so another attempt can start over; past that
 * the body is committed to its backend and a failure is final. Memory per request stays bounded
 * by `replayBytes`.
 */
export class ReplayableBody {
  readonly #iterator: AsyncIterator<Buffer>;
  /** Chunks read from the source so far, in order, while they fit the replay window. */
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #pulled = 0;
  #overflowed = false;
  #ended = false;
  #inFlight: Promise<void> | undefined;

  constructor(
    source: Readable,
    private readonly replayBytes = 256 * 1024,
  ) {
    // destroyOnReturn false: a failed attempt must not destroy the client's request stream.
    this.#iterator = source.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]();
  }

  /** Whether another attempt can still start from the first byte. */
  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** A fresh stream of the whole body for one backend attempt. */
  attempt(): Readable {
    if (this.#overflowed) throw new Error('the body was already streamed past the replay window');
    const self = this;
    return Readable.from(
      (async function* () {
        for (let index = 0; ; index++) {
          while (index >= self.#pulled && !self.#ended) await self.#pull();
          if (index >= self.#pulled) return;
          yield self.#chunk(index);
        }
      })(),
      { objectMode: false },
    );
  }

  /** Reads one more chunk from the source; concurrent callers share one read. */
  #pull(): Promise<void> {
    this.#inFlight ??= (async () => {
      try {
        const { value, done } = await this.#iterator.next();
        if (done) this.#ended = true;
        else this.#remember(value);
      } finally {
        this.#inFlight = undefined;
      }
    })();
    return this.#inFlight;
  }

  #remember(chunk: Buffer): void {
    this.#pulled += 1;
    this.#keptBytes += chunk.length;
    if (!this.#overflowed && this.#keptBytes <= this.replayBytes) {
      this.#kept.push(chunk);
      return;
    }
    // Past the window: later attempts are refused; the current one streams on, one chunk at a time.
    this.#overflowed = true;
    this.#kept = [chunk];
  }

  #chunk(index: number): Buffer {
    const chunk = this.#overflowed ? (index === this.#pulled - 1 ? this.#kept[0] : undefined) : this.#kept[index];
    if (chunk === undefined) throw new Error('the body was already streamed past the replay window');
    return chunk;
  }
}
