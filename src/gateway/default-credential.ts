import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppConfig, CredentialConfig } from '../config/types.js';
import { Secret } from '../config/secret.js';

export const CREDENTIALS_FILE_NAME = 'credentials.json';

export interface ProvisionedCredentials {
  readonly credentials: readonly CredentialConfig[];
  /** Where the single admin credential came from, when the config declared none. */
  readonly origin: 'config' | 'environment' | 'generated' | 'file';
  readonly file?: string;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomText(length: number, alphabet: string): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * The credentials the endpoint accepts. When the config declares none, one `admin` credential for
 * every bucket: from S3O_ACCESS_KEY_ID / S3O_SECRET_ACCESS_KEY when set, else generated once into a
 * 0600 file in the data directory (so a fresh clone works without set-up and keeps its key across
 * restarts). The secret is only ever held in a Secret.
 */
export async function provisionCredentials(config: AppConfig, env: NodeJS.ProcessEnv = process.env): Promise<ProvisionedCredentials> {
  if (config.credentials.length > 0) return { credentials: config.credentials, origin: 'config' };
  const id = env.S3O_ACCESS_KEY_ID;
  const secret = env.S3O_SECRET_ACCESS_KEY;
  if (id && secret) return { credentials: [admin(id, secret)], origin: 'environment' };
  const file = join(config.server.dataDir, CREDENTIALS_FILE_NAME);
  const existing = await readCredentialFile(file);
  if (existing) return { credentials: [existing], origin: 'file', file };
  await mkdir(config.server.dataDir, { recursive: true, mode: 0o700 });
  const generated = { accessKeyId: `S3O${randomText(17, ALPHABET)}`, secretAccessKey: randomBytes(30).toString('base64url') };
  try {
    // 'wx': two processes starting at once must not each write a different key; the loser reads.
    await writeFile(file, `${JSON.stringify(generated, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = await readCredentialFile(file);
    if (raced) return { credentials: [raced], origin: 'file', file };
    throw err;
  }
  return { credentials: [admin(generated.accessKeyId, generated.secretAccessKey)], origin: 'generated', file };
}

/** The generated credential, if the data directory holds one (for `s3-orchestrator credentials`). */
export async function readCredentialFile(file: string): Promise<CredentialConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const value = JSON.parse(text) as { accessKeyId?: unknown; secretAccessKey?: unknown };
  if (typeof value.accessKeyId !== 'string' || typeof value.secretAccessKey !== 'string') {
    throw new Error(`${file} does not hold a credential (accessKeyId and secretAccessKey); remove it to generate a new one`);
  }
  return admin(value.accessKeyId, value.secretAccessKey);
}

function admin(accessKeyId: string, secret: string): CredentialConfig {
  return { accessKeyId, secretAccessKey: new Secret(secret), buckets: '*', permission: 'admin' };
}
