import type * as Q from '../../core/generated/queries.js';
import { SqliteQueryContext, withDates } from './context.js';

const KEYS = 'SELECT value FROM json_each(@storageKeys)';

/** The statements of this mirror, by query name. */
export const SQL = {
  knownStorageKeys: `SELECT storage_key FROM object_locations WHERE backend_name = @backendName AND storage_key IN (${KEYS})
    UNION
    SELECT storage_key FROM pending_objects WHERE backend_name = @backendName AND storage_key IN (${KEYS})
    UNION
    SELECT storage_key FROM multipart_uploads WHERE backend_name = @backendName AND storage_key IN (${KEYS})
    UNION
    SELECT p.storage_key FROM multipart_parts p JOIN multipart_uploads u ON u.upload_id = p.upload_id
    WHERE u.backend_name = @backendName AND p.storage_key IN (${KEYS})
    UNION
    SELECT storage_key FROM cleanup_queue WHERE backend_name = @backendName AND storage_key IN (${KEYS})
    UNION
    SELECT storage_key FROM cleanup_dlq WHERE backend_name = @backendName AND storage_key IN (${KEYS})`,
  listCopiesOfBackend: `SELECT object_key, backend_name, storage_key, size_bytes, etag, content_type, user_metadata, content_hash, created_at, part_sizes
    FROM object_locations WHERE backend_name = @backendName AND storage_key > @afterKey
    ORDER BY storage_key LIMIT @limit`,
} as const;

/** Mirror of queries/backend-check.sql: the keys travel as one bound JSON array (json_each). */
export class BackendCheckQueries extends SqliteQueryContext {
  async knownStorageKeys(p: Q.IKnownStorageKeysParams): Promise<Q.IKnownStorageKeysResult[]> {
    return this.stmt(SQL.knownStorageKeys).all({ backendName: p.backendName, storageKeys: JSON.stringify(p.storageKeys) }) as Q.IKnownStorageKeysResult[];
  }

  async listCopiesOfBackend(p: Q.IListCopiesOfBackendParams): Promise<Q.IListCopiesOfBackendResult[]> {
    const rows = this.stmt(SQL.listCopiesOfBackend).all({ backendName: p.backendName, afterKey: p.afterKey, limit: p.limit });
    return withDates(rows, 'created_at');
  }
}
