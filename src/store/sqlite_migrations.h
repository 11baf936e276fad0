/* sqlite_migrations — the SQLite store's schema steps, in order: a data dir at version v runs steps v..n-1 on
 * open, each in its own transaction, and records n in schema_version (sqlite.c).  Steps are only ever added. */
#ifndef IG_SQLITE_MIGRATIONS_H
#define IG_SQLITE_MIGRATIONS_H

extern const char *const ig_sq_migrations[];
extern const int ig_sq_migrations_count;

#endif
