/**
 * What the Activity page shows of this process's traffic: per-10-second counts of S3 requests
 * (all, client errors, server errors) over the last 30 minutes, and the latest object changes
 * (writes and deletes that succeeded). In memory, bounded, fed by the gateway's request hook; an
 * instance shows its own traffic (each instance behind a load balancer has its own dashboard).
 */

export const SLOT_MS = 10_000;
const SLOTS = 180;
const RECENT = 100;

/** Operations that change objects or buckets: the ones listed as events. */
const CHANGES = new Set([
  'PutObject',
  'CopyObject',
  'DeleteObject',
  'DeleteObjects',
  'CompleteMultipartUpload',
  'CreateBucket',
  'DeleteBucket',
]);

export interface RequestRecord {
  readonly operation: string | undefined;
  readonly status: number;
  readonly bucket?: string | undefined;
  readonly key?: string | undefined;
  readonly accessKeyId?: string | undefined;
}

export interface RateSlot {
  /** Epoch milliseconds of the slot's start. */
  readonly start: number;
  readonly requests: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
}

export interface RecentChange {
  readonly at: number;
  readonly operation: string;
  readonly status: number;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly accessKeyId: string | undefined;
}

interface MutableSlot {
  start: number;
  requests: number;
  clientErrors: number;
  serverErrors: number;
}

export class ActivityRecorder {
  readonly #slots: MutableSlot[] = [];
  readonly #recent: RecentChange[] = [];
  readonly startedAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now();
  }

  record(r: RequestRecord): void {
    const at = this.now();
    const slot = this.#slot(at);
    slot.requests++;
    if (r.status >= 500) slot.serverErrors++;
    else if (r.status >= 400) slot.clientErrors++;
    if (r.operation !== undefined && CHANGES.has(r.operation) && r.status < 300) {
      this.#recent.push({ at, operation: r.operation, status: r.status, bucket: r.bucket, key: r.key, accessKeyId: r.accessKeyId });
      if (this.#recent.length > RECENT) this.#recent.shift();
    }
  }

  /** The last `minutes` minutes as consecutive 10-second slots, oldest first, empty ones included. */
  rates(minutes: number): RateSlot[] {
    const count = Math.min(SLOTS, Math.ceil((minutes * 60_000) / SLOT_MS));
    const current = Math.floor(this.now() / SLOT_MS) * SLOT_MS;
    const byStart = new Map(this.#slots.map((s) => [s.start, s]));
    const out: RateSlot[] = [];
    for (let i = count - 1; i >= 0; i--) {
      const start = current - i * SLOT_MS;
      const s = byStart.get(start);
      out.push(s ? { ...s } : { start, requests: 0, clientErrors: 0, serverErrors: 0 });
    }
    return out;
  }

  /** The latest changes, newest first. */
  recent(limit = 50): RecentChange[] {
    return this.#recent.slice(-limit).reverse();
  }

  #slot(at: number): MutableSlot {
    const start = Math.floor(at / SLOT_MS) * SLOT_MS;
    const last = this.#slots[this.#slots.length - 1];
    if (last && last.start === start) return last;
    const slot = { start, requests: 0, clientErrors: 0, serverErrors: 0 };
    this.#slots.push(slot);
    while (this.#slots.length > SLOTS || this.#slots[0]!.start <= start - SLOTS * SLOT_MS) this.#slots.shift();
    return slot;
  }
}
