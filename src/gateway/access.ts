import type { CredentialConfig, Permission } from '../config/types.js';
import { S3Error } from './errors.js';
import type { Operation } from './router.js';

/** What each operation needs of the credential that signed it. */
const NEEDS: Record<Operation, Permission | 'any'> = {
  ListBuckets: 'any',
  CreateBucket: 'admin',
  DeleteBucket: 'admin',
  HeadBucket: 'read',
  GetBucketLocation: 'read',
  GetBucketVersioning: 'read',
  ListObjectVersions: 'read',
  ListObjects: 'read',
  ListObjectsV2: 'read',
  ListMultipartUploads: 'read',
  ListParts: 'read',
  GetObject: 'read',
  HeadObject: 'read',
  DeleteObjects: 'read-write',
  PutObject: 'read-write',
  CopyObject: 'read-write',
  DeleteObject: 'read-write',
  CreateMultipartUpload: 'read-write',
  UploadPart: 'read-write',
  UploadPartCopy: 'read-write',
  CompleteMultipartUpload: 'read-write',
  AbortMultipartUpload: 'read-write',
};

const RANK: Record<Permission, number> = { read: 1, 'read-write': 2, admin: 3 };

/** The credentials of the config, by access key id. */
export class AccessControl {
  readonly #byKey: Map<string, CredentialConfig>;

  constructor(credentials: readonly CredentialConfig[]) {
    this.#byKey = new Map(credentials.map((c) => [c.accessKeyId, c]));
  }

  /** The secret for SigV4 verification; undefined for an unknown key (→ InvalidAccessKeyId). */
  secretFor(accessKeyId: string): string | undefined {
    return this.#byKey.get(accessKeyId)?.secretAccessKey.reveal();
  }

  credential(accessKeyId: string): CredentialConfig {
    const c = this.#byKey.get(accessKeyId);
    if (!c) throw new S3Error('InvalidAccessKeyId');
    return c;
  }

  /** Throws AccessDenied unless `credential` may run `operation` on `bucket`. */
  authorize(credential: CredentialConfig, operation: Operation, bucket: string | undefined): void {
    const need = NEEDS[operation];
    if (need !== 'any' && RANK[credential.permission] < RANK[need]) throw new S3Error('AccessDenied');
    if (bucket !== undefined && !mayUseBucket(credential, bucket)) throw new S3Error('AccessDenied');
  }

  /** For a copy: the credential must also be able to read the source bucket. */
  authorizeRead(credential: CredentialConfig, bucket: string): void {
    if (!mayUseBucket(credential, bucket)) throw new S3Error('AccessDenied');
  }
}

export function mayUseBucket(credential: CredentialConfig, bucket: string): boolean {
  return credential.buckets === '*' || credential.buckets.includes(bucket);
}
