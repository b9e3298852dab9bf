import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, PreconditionFailedError } from '../../src/store/core/errors.js';
import { openStore } from '../../src/store/open.js';
import { SCHEMA_VERSION } from '../../src/store/sqlite/schema.js';
import { appConfig, createTestDatabase, describeEngines } from '../support/engines.js';
import { closeStores, openTestStore } from '../support/store.js';

afterEach(closeStores);

describeEngines('multipart: the backend upload id', (engine) => {
  it('is null at creation, recorded once, returned by getUpload, listUploads and listStaleUploads', async () => {
    const { store, clock } = await openTestStore(engine);
    const upload = await store.multipart.createUpload({ objectKey: 'b/big.bin', backendName: 'alpha' });
    expect(upload.backendUploadId).toBeNull();
    expect((await store.multipart.getUpload(upload.uploadId)).backendUploadId).toBeNull();

    const id = 'ZjQ3Y2M5MjctNTdmNS00.s3-native~upload/id+with=odd&chars';
    const recorded = await store.multipart.recordBackendUpload(upload.uploadId, id);
    expect(recorded).toMatchObject({ uploadId: upload.uploadId, backendName: 'alpha', storageKey: upload.storageKey, backendUploadId: id });
    expect((await store.multipart.getUpload(upload.uploadId)).backendUploadId).toBe(id);
    expect((await store.multipart.listUploads({ prefix: 'b/' })).uploads.map((u) => u.backendUploadId)).toEqual([id]);
    clock.advance(60_000);
    expect((await store.multipart.listStaleUploads(clock.now())).map((u) => u.backendUploadId)).toEqual([id]);

    // The same id again is a no-op; another one would lose track of the first backend upload.
    expect((await store.multipart.recordBackendUpload(upload.uploadId, id)).backendUploadId).toBe(id);
    await expect(store.multipart.recordBackendUpload(upload.uploadId, 'another')).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await store.multipart.getUpload(upload.uploadId)).backendUploadId).toBe(id);
  });

  it('is per upload; an unknown or finished upload is NotFound; an empty id is refused', async () => {
    const { store } = await openTestStore(engine);
    const a = await store.multipart.createUpload({ objectKey: 'b/k', backendName: 'alpha' });
    const b = await store.multipart.createUpload({ objectKey: 'b/k', backendName: 'alpha' });
    await store.multipart.recordBackendUpload(a.uploadId, 'id-a');
    expect((await store.multipart.getUpload(b.uploadId)).backendUploadId).toBeNull();
    await expect(store.multipart.recordBackendUpload(a.uploadId, '')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.multipart.recordBackendUpload('00000000-0000-4000-8000-000000000000', 'x')).rejects.toBeInstanceOf(NotFoundError);
    await store.multipart.abortUpload(a.uploadId);
    await expect(store.multipart.recordBackendUpload(a.uploadId, 'id-a')).rejects.toBeInstanceOf(NotFoundError);
  });
});

it('sqlite: a file of schema version 3 (before backend upload ids) gains the column in place', async () => {
  const db = await createTestDatabase('sqlite');
  if (db.driver !== 'sqlite') throw new Error('expected sqlite');
  mkdirSync(dirname(db.path), { recursive: true });
  const v3 = readFileSync(new URL('../../schema.sql', import.meta.url), 'utf8')
    .replace(/,\n\s*-- The backend's own id[^\n]*\n\s*backend_upload_id TEXT\n/, '\n')
    .replace(/PRAGMA user_version = \d+;/, 'PRAGMA user_version = 3;');
  const raw = new Sqlite(db.path);
  raw.exec(v3);
  raw.prepare(`INSERT INTO backend_quotas (backend_name, bytes_limit, updated_at) VALUES ('alpha', 0, 0)`).run();
  const columns = () => (raw.pragma('table_info(multipart_uploads)') as { name: string }[]).map((c) => c.name);
  expect(columns()).not.toContain('backend_upload_id');
  raw.close();

  const store = await openStore(appConfig(db));
  const upload = await store.multipart.createUpload({ objectKey: 'b/k', backendName: 'alpha' });
  expect((await store.multipart.recordBackendUpload(upload.uploadId, 'native-1')).backendUploadId).toBe('native-1');
  await store.close();
  const after = new Sqlite(db.path);
  expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  expect((after.pragma('table_info(multipart_uploads)') as { name: string }[]).map((c) => c.name)).toContain('backend_upload_id');
  after.close();
});
