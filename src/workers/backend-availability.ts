import type { BackendHousekeeping } from '../backends/backend-client.js';
import { BackendUnavailableError, hasAvailabilityProbe } from '../backends/backend-unavailable.js';
import type { Logger } from '../logging.js';

/**
 * Which backends the workers may act on right now. A backend whose client says it is unavailable
 * (a directory backend whose root or marker is gone) is left out, so its cleanup rows and intents
 * wait untouched (no attempts spent, nothing taken as absent) until it is back. Each outage is
 * logged once at warn, its end once at info; shared by the jobs of one process.
 */
export class BackendAvailability {
  readonly #down = new Map<string, string>();

  constructor(
    private readonly clients: ReadonlyMap<string, BackendHousekeeping>,
    private readonly logger: Logger,
  ) {}

  /** The names of the backends with a client that are usable now, in the clients' order. */
  async usable(): Promise<string[]> {
    const out: string[] = [];
    for (const [name, client] of this.clients) {
      if (!hasAvailabilityProbe(client)) {
        out.push(name);
        continue;
      }
      try {
        await client.checkAvailable();
      } catch (err) {
        if (!(err instanceof BackendUnavailableError)) throw err;
        this.reportUnavailable(err);
        continue;
      }
      this.#reportBack(name);
      out.push(name);
    }
    return out;
  }

  /** Records an outage found in the middle of work (the root vanished between the check and the call). */
  reportUnavailable(err: BackendUnavailableError): void {
    if (this.#down.has(err.backendName)) return;
    this.#down.set(err.backendName, err.message);
    this.logger.warn({ backend: err.backendName, location: err.location, reason: err.reason }, `${err.message}; its cleanup rows and intents wait until it is back`);
  }

  #reportBack(name: string): void {
    if (!this.#down.delete(name)) return;
    this.logger.info({ backend: name }, `backend ${JSON.stringify(name)} is available again; its work resumes`);
  }
}
