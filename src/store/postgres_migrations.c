/* postgres_migrations — the PostgreSQL store's schema, as the steps that build it (postgres.c runs the missing
 * ones in order, each in its own transaction under an advisory lock, and records the version in
 * schema_version).  Append a step to change the schema; never edit one that has shipped.
 *
 * The tables are SQLite's (sqlite_migrations.c, sqlite_journal.h, sqlite_bases.h) as they are at its schema 13,
 * in PostgreSQL's types: BIGINT milliseconds, BOOLEAN flags, BYTEA hashes and bodies.  Every text key and every
 * text compared by range or sorted is COLLATE "C": names sort and compare byte-wise, as in SQLite, whatever the
 * database's locale (a location range scan would otherwise fold case or accents).
 *
 * meta holds the counters: token_seq (the token change feed's sequence; a row, not a SEQUENCE, so that seq
 * order is commit order: a writer holds the row until it commits, and a poller that saw seq n never misses an
 * n-1 committed later), changes (bumped by every write transaction, for changed()), and the idempotency
 * totals kept by triggers. */
#include "store/postgres.h"

const char *const ig_pg_migrations[] = {
    /* 1: everything SQLite's schema 13 has */
    "CREATE TABLE meta(k TEXT COLLATE \"C\" PRIMARY KEY, v BIGINT NOT NULL);"
    "INSERT INTO meta VALUES('token_seq', 0), ('changes', 0), ('idem_count', 0), ('idem_bytes', 0);"
    "CREATE TABLE users(name TEXT COLLATE \"C\" PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE TABLE tokens(id TEXT COLLATE \"C\" PRIMARY KEY, hash BYTEA NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    "  name TEXT COLLATE \"C\" NOT NULL, owner TEXT COLLATE \"C\" NOT NULL,"
    "  suspended BOOLEAN NOT NULL DEFAULT false, max_rps DOUBLE PRECISION, burst INTEGER, expires_at BIGINT,"
    "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, suspended_at BIGINT, suspend_reason TEXT,"
    "  last_used_at BIGINT, last_used_ip TEXT, seq BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT false,"
    "  suspended_by_role TEXT, suspended_by TEXT, max_rps_set_by TEXT, prev_hash BYTEA, prev_valid_until BIGINT,"
    "  rotated_at BIGINT, scopes INTEGER NOT NULL DEFAULT 3, allowed_cidrs TEXT, rate_limit_mode TEXT,"
    "  namespaces TEXT);"
    "CREATE UNIQUE INDEX tokens_owner_name ON tokens(owner, name) WHERE NOT deleted;"
    "CREATE INDEX tokens_seq ON tokens(seq);"
    "CREATE INDEX tokens_created ON tokens(created_at, id) WHERE NOT deleted;"
    "CREATE TABLE namespaces(name TEXT COLLATE \"C\" PRIMARY KEY, parent TEXT COLLATE \"C\" NOT NULL,"
    "  properties TEXT NOT NULL);"
    "CREATE INDEX namespaces_parent ON namespaces(parent, name);"
    "CREATE TABLE objects(ns TEXT COLLATE \"C\" NOT NULL, name TEXT COLLATE \"C\" NOT NULL, kind INTEGER NOT NULL,"
    "  location TEXT NOT NULL, PRIMARY KEY(ns, name));"
    "CREATE TABLE object_bases(ns TEXT COLLATE \"C\" NOT NULL, name TEXT COLLATE \"C\" NOT NULL,"
    "  base TEXT COLLATE \"C\" NOT NULL, PRIMARY KEY(ns, name, base));"
    "CREATE INDEX object_bases_base ON object_bases(base);"
    "CREATE TABLE idempotency(key TEXT COLLATE \"C\" PRIMARY KEY, principal TEXT NOT NULL, request TEXT NOT NULL,"
    "  status INTEGER NOT NULL, body BYTEA NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE INDEX idempotency_created ON idempotency(created_at, key);"
    "CREATE FUNCTION idem_totals() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    UPDATE meta SET v = v + 1 WHERE k = 'idem_count';"
    "    UPDATE meta SET v = v + octet_length(NEW.body) WHERE k = 'idem_bytes';"
    "  ELSE"
    "    UPDATE meta SET v = v - 1 WHERE k = 'idem_count';"
    "    UPDATE meta SET v = v - octet_length(OLD.body) WHERE k = 'idem_bytes';"
    "  END IF;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER idem_totals AFTER INSERT OR DELETE ON idempotency FOR EACH ROW EXECUTE FUNCTION idem_totals();"
    "CREATE TABLE audit(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL,"
    "  actor TEXT COLLATE \"C\", actor_token_id TEXT COLLATE \"C\", action TEXT COLLATE \"C\" NOT NULL,"
    "  target TEXT COLLATE \"C\", target_owner TEXT COLLATE \"C\", details TEXT NOT NULL, client_ip TEXT);"
    "CREATE INDEX audit_at ON audit(at);"
    "CREATE INDEX audit_target ON audit(target, id);"
    "CREATE INDEX audit_actor ON audit(actor, id);"
    "CREATE INDEX audit_owner ON audit(target_owner, id);"
    "CREATE TABLE events(seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  type TEXT NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at BIGINT NOT NULL);"
    "CREATE TABLE token_notices(token_id TEXT COLLATE \"C\" PRIMARY KEY, expires_at BIGINT NOT NULL,"
    "  level INTEGER NOT NULL);"
    "CREATE TABLE meta_pending(seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, location TEXT NOT NULL,"
    "  body BYTEA NOT NULL);"
    "CREATE TABLE purges(seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, location TEXT NOT NULL);",
};

const int ig_pg_migrations_count = (int)(sizeof ig_pg_migrations / sizeof ig_pg_migrations[0]);
