/* warehouse — every file the catalog reads or writes: table and view metadata JSON under the warehouse root
 * (catalog.warehouse), and the recursive delete behind dropTable?purgeRequested=true.
 *
 * One ops struct, one file per back end (curl's vtls model): file.c serves file:// roots; an S3 back end is
 * one more file.  ig_warehouse_open() picks the back end by the URI's scheme; the ig_warehouse_* calls below
 * dispatch to it, so the catalog never sees a path or an S3 request.  The contract every back end keeps:
 *
 * Containment is the point of this module: a location from a request ("file:///w/db/t", "file:/w/db/t" or
 * "/w/db/t") is accepted only when it lies strictly inside the root, has no "." / ".." / empty segments and
 * no control characters; every file operation then walks from a directory descriptor of the root one
 * component at a time with O_NOFOLLOW, so a symlink planted inside the warehouse cannot lead outside it.
 *
 * Metadata files are written as <location>/metadata/<NNNNN>-<uuid>.metadata.json through a temporary name:
 * write, fsync, rename (never replacing an existing file), fsync of the directory — a reader sees either no
 * file or the whole file.  A lazy warehouse (ig_warehouse_set_lazy) skips the syncs: the caller has the bytes
 * durable elsewhere and calls ig_warehouse_sync later.
 *
 * Every function returning int gives 0 on success or -1 with *err filled: 400 BadRequestException for a
 * location outside the warehouse or crossing a symlink, 404 NotFoundException for a missing file, 500
 * ServiceFailureException for I/O errors.  Thread-safe: the only shared state is the root descriptor. */
#ifndef IG_WAREHOUSE_H
#define IG_WAREHOUSE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"

/* Longest location (table/view directory or metadata file URI) the catalog handles. */
#define IG_LOCATION_MAX 2000
/* Largest metadata file written or read back, unless ig_warehouse_set_max_bytes says otherwise. */
#define IG_WAREHOUSE_MAX_FILE (64 << 20)

typedef struct ig_warehouse ig_warehouse_t;
typedef struct ig_wh_staged ig_wh_staged_t; /* a metadata file staged (ig_warehouse_stage), owned by its back end */

/* What a back end can do: the `supports` word. */
#define IG_WAREHOUSE_RENAME (1u << 0)          /* atomic rename: new files appear whole via a temp name */
#define IG_WAREHOUSE_CONDITIONAL_PUT (1u << 1) /* create-only writes (S3 If-None-Match: *) */
#define IG_WAREHOUSE_LAZY (1u << 2) /* writes can wait for a later sync (restore and sync are set) */

typedef struct {
    const char *scheme; /* "file" */
    unsigned supports;  /* IG_WAREHOUSE_* bits */
    void (*close)(ig_warehouse_t *w);
    int (*canonical)(const ig_warehouse_t *w, const char *loc, char *out, size_t cap, ig_error_t *err);
    int (*default_location)(ig_warehouse_t *w, const char *const *levels, size_t n, const char *name, char *out,
                            size_t cap, ig_error_t *err);
    ig_wh_staged_t *(*stage)(ig_warehouse_t *w, const char *location, int64_t version, const char *json,
                             size_t len, char *out, size_t cap, ig_error_t *err);
    int (*publish)(ig_warehouse_t *w, ig_wh_staged_t *const *v, size_t n, ig_error_t *err);
    void (*unstage)(ig_warehouse_t *w, ig_wh_staged_t *p);
    int (*restore)(ig_warehouse_t *w, const char *file_location, const char *body, size_t len, ig_error_t *err);
    int (*sync)(ig_warehouse_t *w, ig_error_t *err);
    int (*read)(ig_warehouse_t *w, const char *file_location, char **buf, size_t *len, ig_error_t *err);
    int (*remove)(ig_warehouse_t *w, const char *file_location, ig_error_t *err);
    int (*purge)(ig_warehouse_t *w, const char *location, ig_error_t *err);
    int (*exists)(ig_warehouse_t *w, const char *location, ig_error_t *err);
    int64_t (*sweep_temps)(ig_warehouse_t *w, int64_t before_s, const _Atomic bool *stop);
    /* Appends the storage-credential config a client gets for the table at location (a JSON object's
     * members, no braces) to out and the location they reach to prefix: 1 when it vends some, 0 when it vends
     * none, -1 with err (NULL: never). */
    int (*vend)(ig_warehouse_t *w, const char *location, bool write, int64_t not_after_ms, ig_buf_t *out,
                char *prefix, size_t pcap, ig_error_t *err);
} ig_warehouse_ops_t;

/* Every back end's warehouse starts with this. */
struct ig_warehouse {
    const ig_warehouse_ops_t *ops;
    const char *uri;  /* the canonical root URI, e.g. "file:///abs/path", no trailing '/' */
    const char *name; /* the root's last path segment ("warehouse" by default): the warehouse name and prefix */
    int64_t max_bytes; /* the one cap for metadata files on both paths (catalog.max_metadata_bytes) */
    bool lazy;         /* ig_warehouse_set_lazy */
};

/* Opens (creating it if needed) the warehouse root named by uri ("file:///abs/path" or an absolute path),
 * with the back end its scheme names.  NULL with err filled on failure.  Free with ig_warehouse_close (NULL is
 * fine). */
ig_warehouse_t *ig_warehouse_open(const char *uri, ig_error_t *err);
void ig_warehouse_close(ig_warehouse_t *w);
/* Opens the warehouse the configuration names: catalog.warehouses[i] (file:// or s3://, named by its name),
 * else (no list, i 0) catalog.warehouse. */
ig_warehouse_t *ig_warehouse_open_config(const ig_config_t *cfg, int i, ig_error_t *err);
/* The back ends, one file each. */
ig_warehouse_t *ig_warehouse_file_open(const char *uri, ig_error_t *err);
/* s3://bucket[/path], its endpoint, region and keys from c; the bucket must answer a listing, or NULL. */
ig_warehouse_t *ig_warehouse_s3_open(const ig_warehouse_cfg_t *c, ig_error_t *err);

/* Sets the largest metadata file written or read (catalog.max_metadata_bytes): what is written can always
 * be read back. */
void ig_warehouse_set_max_bytes(ig_warehouse_t *w, int64_t max_bytes);

/* The canonical root URI. */
const char *ig_warehouse_uri(const ig_warehouse_t *w);
/* The warehouse's name (its prefix). */
const char *ig_warehouse_name(const ig_warehouse_t *w);

/* Checks that loc lies strictly inside the root and writes its canonical form ("file:///...", no trailing
 * '/') into out.  400 otherwise. */
int ig_warehouse_canonical(const ig_warehouse_t *w, const char *loc, char *out, size_t cap, ig_error_t *err);

/* The default location of a new table or view: <root>/<level>/.../<name>, each segment made safe for a file
 * name ('/', '%', control bytes and leading dots percent-encoded).  When that directory already exists and
 * is not empty (a table dropped without purge, or renamed away, left it), "-<8 hex>" is appended so a later
 * purge of one table never deletes another's files.  levels: n strings. */
int ig_warehouse_default_location(ig_warehouse_t *w, const char *const *levels, size_t n, const char *name,
                                  char *out, size_t cap, ig_error_t *err);

/* Writes len bytes of metadata JSON as <dir>/<version:05>-<uuid>.metadata.json (dir is the canonical metadata
 * folder, <location>/metadata or write.metadata.path; created as needed) and puts the new file's canonical URI
 * in out.  400 naming catalog.max_metadata_bytes, with
 * nothing written, when len is over the cap. */
int ig_warehouse_write_metadata(ig_warehouse_t *w, const char *dir, int64_t version, const char *json,
                                size_t len, char *out, size_t cap, ig_error_t *err);

/* A metadata file written in two steps, so that a group of commits pays for one sync, not one each:
 * ig_warehouse_stage writes it (not durable, not under its name yet; out gets its final location, with the
 * same cap check as ig_warehouse_write_metadata), ig_warehouse_publish makes a whole group durable and
 * visible at once, or none of it (every one given back either way), ig_warehouse_unstage drops one unused.
 * ig_warehouse_write_metadata is one stage and its publish. */
ig_wh_staged_t *ig_warehouse_stage(ig_warehouse_t *w, const char *dir, int64_t version, const char *json,
                                   size_t len, char *out, size_t cap, ig_error_t *err);
int ig_warehouse_publish(ig_warehouse_t *w, ig_wh_staged_t *const *v, size_t n, ig_error_t *err);
void ig_warehouse_unstage(ig_warehouse_t *w, ig_wh_staged_t *p);

/* Lazy writes (catalog.metadata_sync: journal, on a back end with IG_WAREHOUSE_LAZY): publish renames a
 * group into place without syncing it, and folders are made without syncing their parents; the caller keeps
 * the bytes elsewhere (the store) until ig_warehouse_sync has made everything written so far durable, and
 * after a crash writes each one again, durably, with ig_warehouse_restore.  -1 when the back end cannot. */
int ig_warehouse_set_lazy(ig_warehouse_t *w, bool lazy);
int ig_warehouse_sync(ig_warehouse_t *w, ig_error_t *err);
int ig_warehouse_restore(ig_warehouse_t *w, const char *file_location, const char *body, size_t len,
                         ig_error_t *err);

/* Removes the temp files a metadata write leaves when the process dies mid-write, older than before_s (wall
 * clock, s): run at start, off the request path (it walks the warehouse, not its data/ folders); returns how
 * many went.  Stops early once *stop is set. */
int64_t ig_warehouse_sweep_temps(ig_warehouse_t *w, int64_t before_s, const _Atomic bool *stop);

/* The version a new metadata file should carry after prev ("00007-....metadata.json" -> 8; "v3.metadata.json"
 * -> 4; NULL or unparsable -> 0 / 1). */
int64_t ig_warehouse_next_version(const char *prev_metadata_location);

/* Reads a whole file inside the warehouse (at most max_bytes).  *buf is malloc'd and
 * NUL-terminated; the caller frees it. */
int ig_warehouse_read(ig_warehouse_t *w, const char *file_location, char **buf, size_t *len, ig_error_t *err);

/* Removes one file inside the warehouse (a metadata file a lost commit wrote).  A missing file is not an
 * error. */
int ig_warehouse_remove(ig_warehouse_t *w, const char *file_location, ig_error_t *err);

/* Deletes the directory tree at location (a table's files), never following symlinks (a link is removed,
 * not its target).  The root itself is refused.  A missing directory is not an error. */
int ig_warehouse_purge(ig_warehouse_t *w, const char *location, ig_error_t *err);

/* Appends the members of the credentials config a client gets for the table at location (s3.access-key-id,
 * ...; DESIGN.md §7) to out, and the location they reach (the table's, or with static keys the root) to prefix:
 * 1, or 0 when the warehouse vends none (catalog.credentials.mode none, or a file:// warehouse), or -1 with err
 * (503 when STS cannot be reached).  write: may the client write (the token's catalog:write scope); not_after_ms:
 * the credentials must not outlive it (the token's expiry; 0 = none).  Secrets: out is the caller's to wipe. */
int ig_warehouse_vend(ig_warehouse_t *w, const char *location, bool write, int64_t not_after_ms, ig_buf_t *out,
                      char *prefix, size_t pcap, ig_error_t *err);

/* 1 if the file or directory at location exists, 0 if not, -1 with err on error. */
int ig_warehouse_exists(ig_warehouse_t *w, const char *location, ig_error_t *err);

/* ---- for the back ends (file.c, s3.c): the rules every back end keeps the same way */
#define IG_WH_MAX_DEPTH 64 /* segments below the root a location or a purge may reach */
/* The segments of rel (len bytes, below the root): non-empty, not "." or "..", no control bytes, at most
 * IG_WH_MAX_DEPTH; 0, or -1 with a 400 naming loc. */
int ig_wh_check_segments(const char *rel, size_t len, const char *loc, ig_error_t *err);
/* <level>/.../<name> below the root, each made one safe segment ('/', '%', control bytes and a leading '.'
 * percent-encoded) into rel (leaving 16 bytes of cap for a suffix), its length in *len; -1 when too long. */
int ig_wh_default_rel(const char *const *levels, size_t n, const char *name, char *rel, size_t cap, size_t *len);
/* Appends "-<8 hex>" to rel (len bytes): a default location whose folder is in use already. */
void ig_wh_suffix(char *rel, size_t cap, size_t len);

#endif
