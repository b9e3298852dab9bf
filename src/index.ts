/**
 * The library entry point (`import { openStore, loadConfig } from 's3-orchestrator'`): the metadata
 * store, the config loader, the store's errors and types. Everything else under dist/ is internal.
 */
export { loadConfig, parseConfigText, DEFAULT_CONFIG_PATH } from './config/load.js';
export { Secret } from './config/secret.js';
export { openStore, openDatabase, type OpenStoreOptions } from './store/open.js';
export { MetadataStore, type MetadataStoreOptions } from './store/core/store.js';
export { systemClock, type Clock } from './store/core/clock.js';
export type { Database, DatabaseCapabilities, LeaderJob, LeaderLock, SchemaStatus } from './store/core/database.js';
export type { MigrationProgress } from './store/postgres/migrations.js';
export { createLogger, silentLogger, type Logger, type RootLogger, type LoggerOptions } from './logging.js';
export {
  StoreError,
  NotFoundError,
  NoSpaceError,
  PreconditionFailedError,
  BucketNotEmptyError,
  InvalidArgumentError,
  DatabaseUnavailableError,
  DatabaseBusyError,
  ConstraintViolationError,
  DatabaseInUseError,
  SchemaTooNewError,
  ConfigError,
  isStoreError,
  type StoreErrorCode,
  type PreconditionFailedReason,
  type ConfigIssue,
} from './store/core/errors.js';
export { partByteRange, partCount } from './store/core/part-sizes.js';
export type * from './config/types.js';
export type {
  UserMetadata,
  ObjectCopy,
  ObjectInfo,
  PartSizes,
  PartSizeRun,
  IntentKind,
  WriteIntent,
  CommitResult,
  ListObjectsInput,
  ListedObject,
  ListObjectsResult,
  BackendQuota,
  MultipartUpload,
  UploadPart,
  CleanupTask,
  DeadLetter,
  OutboxEvent,
  UsageDelta,
  BackendUsage,
  Bucket,
  BucketStats,
} from './store/core/types.js';
