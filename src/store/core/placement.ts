import { InvalidArgumentError } from './errors.js';
import type { BackendQuota } from './types.js';

/**
 * The order in which a write tries backends (spec §6, choose backend). `pack` keeps the caller's order;
 * `spread` prefers the least full, counting orphan and in-flight bytes, with unlimited backends as
 * empty, and among equally full ones the one holding the fewest bytes. Backends without room are left out. This reading is advisory: the admission that follows is
 * the strict check, and a refused admission moves on to the next backend.
 */
export function placementOrder(
  totals: readonly BackendQuota[],
  candidates: readonly string[],
  sizeBytes: number,
  placement: 'pack' | 'spread',
): string[] {
  const byName = new Map(totals.map((t) => [t.backendName, t]));
  const unknown = candidates.filter((c) => !byName.has(c));
  if (unknown.length > 0) throw new InvalidArgumentError('backend', `unknown backend ${unknown.map((u) => JSON.stringify(u)).join(', ')}`);
  const withRoom = candidates.filter((c) => hasRoom(byName.get(c)!, sizeBytes));
  if (placement === 'pack') return withRoom;
  return withRoom
    .map((name, index) => ({ name, index, fill: fillRatio(byName.get(name)!), bytes: heldBytes(byName.get(name)!) }))
    .sort((a, b) => a.fill - b.fill || a.bytes - b.bytes || a.index - b.index)
    .map((c) => c.name);
}

/** Bytes a backend holds or has promised: equally full backends (unlimited ones, all empty ones) take turns by it. */
function heldBytes(q: BackendQuota): number {
  return q.bytesUsed + q.orphanBytes + q.inflightBytes;
}

export function hasRoom(q: BackendQuota, sizeBytes: number): boolean {
  return q.bytesLimit === 0 || q.bytesUsed + q.orphanBytes + q.inflightBytes + sizeBytes <= q.bytesLimit;
}

export function fillRatio(q: BackendQuota): number {
  return q.bytesLimit === 0 ? 0 : heldBytes(q) / q.bytesLimit;
}
