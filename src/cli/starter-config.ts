/**
 * What `s3-orchestrator init` writes: every key, explained. It must pass `validate` as written, and
 * switching it to PostgreSQL is uncommenting one line (the url).
 */
export const STARTER_CONFIG = `# s3-orchestrator configuration.
# Any value may use \${VAR} or \${VAR:-default} from the environment; write $$ for a literal $.

database:
  # SQLite (embedded, one instance) is used while no PostgreSQL setting is given: the keys below
  # show its defaults. For PostgreSQL (several instances sharing one database) uncomment one line,
  # the url below, or set the DATABASE_URL environment variable instead.
  # url: postgres://s3o:\${S3O_DB_PASSWORD}@127.0.0.1:5432/s3_orchestrator?sslmode=disable

  # --- SQLite (the default) -------------------------------------------------------------------
  # The database file, relative to this file. Its directory and the file (mode 0600) are created
  # on first start.
  # path: ./data/s3-orchestrator.db
  # full: a commit survives power loss. normal: faster, but the last commits may be lost on power
  # loss (the file is never corrupted; the intent reaper resolves writes whose commit was lost).
  # synchronous: full
  # How long a write waits when another process (an operator command) holds the write lock.
  # busy_timeout: 5s
  # Bytes of the file that reads map into memory (faster lookups in large tables; 0 = off).
  # mmap_size: 1GiB

  # --- PostgreSQL (fields below win over the url's parts) -------------------------------------
  # driver: postgres                     # sqlite | postgres; left out, it follows from the keys above
  # host: db.internal
  # port: 5432
  # database: s3_orchestrator
  # user: s3o
  # password: \${S3O_DB_PASSWORD}         # never printed: redacted in errors, logs and status
  # ssl_mode: verify-full                # disable | require | verify-ca | verify-full (production: verify-full)
  # ssl_root_cert: /etc/ssl/certs/db-ca.pem
  # max_conns: 20                        # see "Pool sizing" in README.md
  # min_conns: 2
  # max_conn_lifetime: 30m
  # quota_stripes: 32                    # quota counter rows per backend: more = less contention

# The storage backends and their byte limits (0 = unlimited). Writes count against the limit from the
# moment they are admitted; bytes waiting for deletion keep counting until they are gone.
backends:
  - name: local
    bytes_limit: 10GiB
    # A local directory standing in for the backend's storage (single machine, development).
    directory: ./data/backends/local

# pack: fill backends in the order above. spread: write to the least full backend.
placement: pack

# Background jobs; each runs on one instance at a time. The values shown are the defaults.
workers:
  cleanup: { interval: 30s, batch_size: 100, concurrency: 4, claim_grace: 5m, max_attempts: 10 }
  reaper: { interval: 1m, batch_size: 100, concurrency: 4, min_age: 5m }
  outbox: { interval: 5s, batch_size: 100, concurrency: 4, claim_grace: 5m }
  usage_flush: { interval: 10s }
  multipart_expiry: { interval: 1h, batch_size: 100, concurrency: 4, max_age: 7d }
  reconcile: { interval: 6h }

# Webhooks: every object created or removed is posted as a CloudEvents 1.0 JSON event.
notifications:
  source: s3-orchestrator
  endpoints: []
  # endpoints:
  #   - name: audit
  #     url: https://hooks.example.com/s3
  #     secret: \${WEBHOOK_SECRET}           # adds X-Signature-256: sha256=<hex HMAC of the body>
  #     timeout: 5s
  #     max_attempts: 10
  #     events: [ObjectCreated, ObjectRemoved]

logging:
  level: info                            # fatal | error | warn | info | debug | trace | silent

# The S3 endpoint (examples; the defaults are shown).
# server:
#   listen: 127.0.0.1:9000
#   domain: s3.example.com               # set: bucket.s3.example.com requests are virtual-hosted style
#   region: us-east-1
#   data_dir: ./data                     # generated state (the generated credential file)

# Who may call the S3 endpoint. Left out: one admin credential is generated at first start.
# credentials:
#   - access_key_id: s3o-admin
#     secret_access_key: \${S3O_SECRET}
#     buckets: ["*"]
#     permission: admin                  # read | read-write | admin

# Buckets created at start (idempotent).
# buckets: [photos]
`;
