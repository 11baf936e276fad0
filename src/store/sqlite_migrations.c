/* sqlite_migrations — the SQLite store's schema, as the steps that build it: see sqlite_migrations.h. */
#include "store/sqlite_migrations.h"

#include "store/sqlite_journal.h"

const char *const ig_sq_migrations[] = {
    /* 1: tokens, users, catalog */
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('token_seq', 0);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    "  name TEXT NOT NULL, owner TEXT NOT NULL, suspended INTEGER NOT NULL DEFAULT 0, max_rps REAL,"
    "  burst INTEGER, expires_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  suspended_at INTEGER, suspend_reason TEXT, last_used_at INTEGER, last_used_ip TEXT,"
    "  seq INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX tokens_owner_name ON tokens(owner, name) WHERE deleted = 0;"
    "CREATE INDEX tokens_seq ON tokens(seq);"
    "CREATE TABLE namespaces(name TEXT PRIMARY KEY, parent TEXT NOT NULL, properties TEXT NOT NULL);"
    "CREATE INDEX namespaces_parent ON namespaces(parent, name);"
    "CREATE TABLE objects(ns TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,"
    "  location TEXT NOT NULL, PRIMARY KEY(ns, name));",
    /* 2: Idempotency-Key responses */
    "CREATE TABLE idempotency(key TEXT PRIMARY KEY, principal TEXT NOT NULL, request TEXT NOT NULL,"
    "  status INTEGER NOT NULL, body BLOB NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE INDEX idempotency_created ON idempotency(created_at);",
    /* 3: what the idempotency entries hold, kept by triggers, so a put learns it without a scan */
    "INSERT INTO meta SELECT 'idem_count', count(*) FROM idempotency;"
    "INSERT INTO meta SELECT 'idem_bytes', coalesce(sum(length(body)), 0) FROM idempotency;"
    "CREATE TRIGGER idem_ins AFTER INSERT ON idempotency BEGIN"
    "  UPDATE meta SET v = v + 1 WHERE k = 'idem_count';"
    "  UPDATE meta SET v = v + length(NEW.body) WHERE k = 'idem_bytes'; END;"
    "CREATE TRIGGER idem_del AFTER DELETE ON idempotency BEGIN"
    "  UPDATE meta SET v = v - 1 WHERE k = 'idem_count';"
    "  UPDATE meta SET v = v - length(OLD.body) WHERE k = 'idem_bytes'; END;",
    /* 4: the locations of tables and views (sqlite_bases.h), for existing objects the folder that holds their
     * metadata folder (<location>/metadata/<file>, as icegate writes it) */
    "CREATE TABLE object_bases(ns TEXT NOT NULL, name TEXT NOT NULL, base TEXT NOT NULL,"
    "  PRIMARY KEY(ns, name, base));"
    "CREATE INDEX object_bases_base ON object_bases(base);"
    "INSERT OR IGNORE INTO object_bases SELECT ns, name,"
    "  CASE WHEN dir LIKE '%/metadata/' THEN substr(dir, 1, length(dir) - 9) ELSE dir END"
    "  FROM (SELECT ns, name, rtrim(location, replace(location, '/', '')) AS dir FROM objects);",
    /* 5: who suspended a token and who set its Max RPS ('admin' | 'member'; NULL on older rows: unknown) */
    "ALTER TABLE tokens ADD COLUMN suspended_by_role TEXT;"
    "ALTER TABLE tokens ADD COLUMN suspended_by TEXT;"
    "ALTER TABLE tokens ADD COLUMN max_rps_set_by TEXT;",
    /* 6: rotation with a grace period: the secret a rotation replaced and until when it still works */
    "ALTER TABLE tokens ADD COLUMN prev_hash BLOB;"
    "ALTER TABLE tokens ADD COLUMN prev_valid_until INTEGER;"
    "ALTER TABLE tokens ADD COLUMN rotated_at INTEGER;",
    /* 7: the audit log, the event outbox and the expiry notices (sqlite_journal.h) */
    IG_SQJ_MIGRATION,
    /* 8: scopes (bits: 1 catalog:read, 2 catalog:write, 4 admin); older tokens get their owner's default */
    ("ALTER TABLE tokens ADD COLUMN scopes INTEGER NOT NULL DEFAULT 3;"
     "UPDATE tokens SET scopes = 7 WHERE owner IN (SELECT name FROM users WHERE role = 'admin');"),
    /* 9: allowedCidrs, canonical and comma-separated (NULL: anywhere) */
    "ALTER TABLE tokens ADD COLUMN allowed_cidrs TEXT;",
    /* 10: rateLimitMode ('shadow'; NULL: enforce) */
    "ALTER TABLE tokens ADD COLUMN rate_limit_mode TEXT;",
    /* 11: namespaces, as core/principal.h packs them (NULL: every namespace) */
    "ALTER TABLE tokens ADD COLUMN namespaces TEXT;",
    /* 12: metadata files written but not yet synced (catalog.metadata_sync: journal), in commit order */
    "CREATE TABLE meta_pending(seq INTEGER PRIMARY KEY, location TEXT NOT NULL, body BLOB NOT NULL);",
    /* 13: locations of dropped tables whose files are still to be deleted (dropTable?purgeRequested=true) */
    "CREATE TABLE purges(seq INTEGER PRIMARY KEY AUTOINCREMENT, location TEXT NOT NULL);",
};

const int ig_sq_migrations_count = (int)(sizeof ig_sq_migrations / sizeof ig_sq_migrations[0]);
