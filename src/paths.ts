import { fileURLToPath } from 'node:url';

/** The package root, from both src/ (tsx, tests) and dist/ (the built binary): both sit one level down. */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
export const SQLITE_SCHEMA_FILE = fileURLToPath(new URL('../schema.sql', import.meta.url));
