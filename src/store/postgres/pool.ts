import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import type { PostgresConfig } from '../../config/types.js';
import { storeTypeParsers } from './type-parsers.js';

/**
 * TLS per ssl_mode, with libpq's meanings: `require` encrypts without checking the certificate;
 * `verify-ca` checks the chain against ssl_root_cert (or the system CAs); `verify-full` also
 * checks that the certificate names the host (the one to use in production).
 */
export function tlsOptions(config: PostgresConfig): false | ConnectionOptions {
  switch (config.sslMode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, ...rootCert(config), checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true, ...rootCert(config) };
  }
}

function rootCert(config: PostgresConfig): { ca?: string } {
  return config.sslRootCert ? { ca: readFileSync(config.sslRootCert, 'utf8') } : {};
}

/** Settings of one connection: the pool's, and the dedicated ones (migrations, leader locks). */
export function clientConfig(config: PostgresConfig): pg.ClientConfig {
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password?.reveal(),
    ssl: tlsOptions(config),
    application_name: 's3-orchestrator',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    types: storeTypeParsers,
  };
}

export function poolConfig(config: PostgresConfig): pg.PoolConfig {
  return {
    ...clientConfig(config),
    max: config.maxConns,
    min: config.minConns,
    maxLifetimeSeconds: Math.ceil(config.maxConnLifetimeMs / 1000),
    idleTimeoutMillis: 30_000,
  };
}
