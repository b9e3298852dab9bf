import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { AppConfig } from '../config/types.js';
import { createLogger, silentLogger } from '../logging.js';
import type { MetadataStore } from '../store/core/store.js';
import { openStore, type OpenStoreOptions } from '../store/open.js';
import { invocationName } from './invocation.js';
import { Output, type Io } from './output.js';

export interface GlobalOptions {
  readonly config?: string;
  readonly debug?: boolean;
  readonly json?: boolean;
}

/** What every command gets: parsed options, the output, and helpers to load the config and store. */
export class CommandContext {
  readonly options: GlobalOptions;
  readonly out: Output;

  constructor(
    readonly io: Io,
    command: Command,
  ) {
    this.options = command.optsWithGlobals<GlobalOptions>();
    this.out = new Output(io, Boolean(this.options.json));
  }

  /**
   * A command line to suggest to the user: how they can run this program where they are, with
   * `--config` only when they gave one (otherwise the default file is found again).
   */
  suggest(args: string, configFile: string | undefined = this.options.config): string {
    return `${invocationName(this.io.env)} ${args}${configFile === undefined ? '' : ` --config ${shellQuote(configFile)}`}`;
  }

  config(): { config: AppConfig; source: string } {
    return loadConfig(this.options.config, this.io.env);
  }

  /**
   * Opens the store for an operator command: next to a running instance (no SQLite single-instance
   * lock, no Postgres migrations), and closes it when `fn` is done.
   */
  async withStore<T>(fn: (store: MetadataStore, config: AppConfig) => Promise<T>, options: OpenStoreOptions = {}): Promise<T> {
    const { config } = this.config();
    const logger = this.options.debug ? createLogger('debug', this.io.stderr) : silentLogger;
    const store = await openStore(config, { role: 'inspect', logger, ...options });
    try {
      return await fn(store, config);
    } finally {
      await store.close();
    }
  }
}

function shellQuote(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
