import { Secret } from '../config/secret.js';
import type { AppConfig, LogLevel } from '../config/types.js';
import type { RootLogger } from '../logging.js';
import type { NotificationTarget } from '../store/core/context.js';
import type { StoreApi } from '../store/core/store.js';
import type { Workers } from '../workers/index.js';
import { isOutboxDeliveryJob } from '../workers/outbox-delivery.js';

/**
 * A part of the service that takes part in a reload (the S3 gateway will: credentials, buckets).
 * `prepare` checks the new config and may throw (then nothing at all changes); the function it
 * returns applies it and must not throw.
 */
export type ReloadParticipant = (next: AppConfig) => Promise<() => void> | (() => void);

export interface ReloadReport {
  /** What changed and now applies: `logging.level`, `backends[alpha].bytes_limit`, `notifications`. */
  readonly applied: readonly string[];
  /** Sections that differ but only take effect after a restart. */
  readonly needsRestart: readonly string[];
}

/** Sections read once at start: a change is reported, not applied. */
const RESTART_ONLY = ['database', 'placement', 'workers', 'server'] as const;

/**
 * The running service's config and the one way to change it while it runs (SIGHUP): log level,
 * quota limits and notification endpoints, plus whatever participants register. All or nothing:
 * the caller only passes a config that loaded and validated; every participant prepares before
 * anything changes; the quota limits are written next (a database error leaves everything as it
 * was); then the in-memory parts switch at once.
 */
export class ServiceConfig {
  #current: AppConfig;
  readonly #participants: ReloadParticipant[] = [];

  constructor(
    initial: AppConfig,
    private readonly live: { readonly store: StoreApi; readonly workers: Workers; readonly logger: RootLogger; readonly pinnedLevel?: LogLevel },
  ) {
    this.#current = initial;
  }

  get current(): AppConfig {
    return this.#current;
  }

  /** Registers a part that also reloads (the gateway hooks in here). */
  participate(participant: ReloadParticipant): void {
    this.#participants.push(participant);
  }

  async reload(next: AppConfig): Promise<ReloadReport> {
    const current = this.#current;
    const commits: (() => void)[] = [];
    for (const participant of this.#participants) commits.push(await participant(next));

    const needsRestart: string[] = RESTART_ONLY.filter((section) => !sameValue(current[section], next[section]));
    const currentShape = current.backends.map((b) => ({ name: b.name, directory: b.directory, s3: b.s3 }));
    const nextShape = next.backends.map((b) => ({ name: b.name, directory: b.directory, s3: b.s3 }));
    const backendsReshaped = !sameValue(currentShape, nextShape);
    if (backendsReshaped) needsRestart.push('backends (names, order, directories or endpoints)');

    const applied: string[] = [];
    const limits = limitChanges(current, next);
    if (limits.length > 0) {
      await syncLimits(this.live.store, limits);
      applied.push(...limits.map((l) => `backends[${l.name}].bytes_limit`));
    }
    const notificationsChanged = !sameValue(current.notifications, next.notifications);
    if (notificationsChanged) {
      await setNotificationTargets(this.live.store, next);
      for (const runner of this.live.workers.runners) {
        if (isOutboxDeliveryJob(runner.work)) runner.work.reconfigure({ source: next.notifications.source, endpoints: next.notifications.endpoints });
      }
      applied.push('notifications');
    }
    const level = this.live.pinnedLevel ?? next.logging.level;
    if (level !== this.live.logger.levelName) {
      this.live.logger.setLevel(level);
      applied.push('logging.level');
    }
    for (const commit of commits) commit();
    this.#current = next;
    return { applied, needsRestart };
  }
}

interface LimitChange {
  readonly name: string;
  readonly bytesLimit: number;
}

/** New limits of backends that exist in both configs (a new or removed backend needs a restart). */
function limitChanges(current: AppConfig, next: AppConfig): LimitChange[] {
  const before = new Map(current.backends.map((b) => [b.name, b.bytesLimit]));
  return next.backends.filter((b) => before.has(b.name) && before.get(b.name) !== b.bytesLimit).map((b) => ({ name: b.name, bytesLimit: b.bytesLimit }));
}

/** The counters are untouched; admission reads the limit from the row syncLimits updates. */
async function syncLimits(store: StoreApi, changes: readonly LimitChange[]): Promise<void> {
  await store.reconfigure({ backendLimits: new Map(changes.map((c) => [c.name, c.bytesLimit])) });
}

/** Which endpoints new events are written for. */
async function setNotificationTargets(store: StoreApi, next: AppConfig): Promise<void> {
  const targets: NotificationTarget[] = next.notifications.endpoints.map((e) => ({ name: e.name, events: e.events }));
  await store.reconfigure({ notificationTargets: targets });
}

/** Deep equality of config values; secrets compare by their clear text (never printed). */
function sameValue(a: unknown, b: unknown): boolean {
  // A Secret serialises as [redacted]: unwrapped first, or a changed password would compare equal.
  return JSON.stringify(unwrapSecrets(a)) === JSON.stringify(unwrapSecrets(b));
}

function unwrapSecrets(value: unknown): unknown {
  if (value instanceof Secret) return { secret: value.reveal() };
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  return value;
}
