/**
 * The backend cannot answer right now: its directory is missing or is not this backend's, or it
 * cannot be reached. Never to be read as "the bytes are absent" (issue 9): workers leave the work
 * for later, and `serve` refuses to start on it.
 */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backendName: string,
    /** Where the backend was looked for (a directory), for the operator. */
    readonly location: string,
    readonly reason: string,
  ) {
    super(`backend ${JSON.stringify(backendName)} is unavailable: ${location} ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

/** A client that can say, cheaply and before any work, whether its backend is there. */
export interface AvailabilityProbe {
  /** Resolves when the backend is usable; throws BackendUnavailableError when it is not. */
  checkAvailable(): Promise<void>;
}

export function hasAvailabilityProbe(client: object): client is AvailabilityProbe {
  return typeof (client as Partial<AvailabilityProbe>).checkAvailable === 'function';
}
