/* sqlite_bases — the locations of tables and views in the SQLite store (DESIGN.md §6: locations never overlap).
 *
 * Table object_bases(ns, name, base) holds every location an object has had while it lives (its files may
 * still be there after a set-location), each canonical with a trailing '/', so "one is inside the other" is
 * "one is a prefix of the other" and t2/ is never inside t/.  Indexed by base: an overlap check costs one
 * range scan (what lies at or below) and one point lookup per ancestor directory (what lies above), whatever
 * the number of tables.  Rows go with their object (drop) and follow it (rename).
 *
 * Every function runs on a connection the caller borrowed, inside the caller's transaction. */
#ifndef IG_STORE_SQLITE_BASES_H
#define IG_STORE_SQLITE_BASES_H

#include <sqlite3.h>

#include "store/store.h"

/* Records w->new_base for (w->ns, w->name) if it is new for it, first checking overlap when w->check_overlap
 * (409 AlreadyExistsException naming the other object). */
int ig_sqb_add(sqlite3 *db, const ig_obj_swap_t *w, ig_error_t *err);
/* See ig_store_ops_t.obj_overlap. */
int ig_sqb_overlap(sqlite3 *db, const char *base, const char *ex_ns, const char *ex_name, char *who, size_t cap,
                   ig_error_t *err);
int ig_sqb_list(sqlite3 *db, const char *ns, const char *name, ig_name_cb cb, void *ud, ig_error_t *err);
/* Removes the rows of (ns, name) / moves them to (to_ns, to_name). */
int ig_sqb_drop(sqlite3 *db, const char *ns, const char *name, ig_error_t *err);
int ig_sqb_rename(sqlite3 *db, const char *ns, const char *name, const char *to_ns, const char *to_name,
                  ig_error_t *err);

#endif
