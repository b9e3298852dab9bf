import { formatSize } from '../config/size.js';
import type { BackendQuota } from '../store/core/types.js';

export interface OverLimit {
  readonly name: string;
  readonly limitBytes: number;
  /** Used, orphan and in-flight bytes together: what counts against the limit. */
  readonly heldBytes: number;
}

/** Backends holding more than their limit (one lowered below what is stored): no write fits on them. */
export function overLimitBackends(quotas: readonly BackendQuota[]): OverLimit[] {
  return quotas
    .map((q) => ({ name: q.backendName, limitBytes: q.bytesLimit, heldBytes: q.bytesUsed + q.orphanBytes + q.inflightBytes }))
    .filter((b) => b.limitBytes > 0 && b.heldBytes > b.limitBytes);
}

export function describeOverLimit(b: OverLimit): string {
  return `backend ${b.name} holds ${formatSize(b.heldBytes)}, more than its limit of ${formatSize(b.limitBytes)}: it takes no new writes until ${formatSize(b.heldBytes - b.limitBytes)} are deleted`;
}
