/* warehouse/file — the file:// warehouse back end (see warehouse.h for the contract every back end keeps).
 *
 * Paths are handled in two forms: the canonical URI the catalog stores and returns ("file:///root/a/b"),
 * and the path relative to the root ("a/b") that file operations walk with openat(O_NOFOLLOW), one segment
 * at a time, from the root's directory descriptor. */
#include "warehouse/warehouse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"


typedef struct {
    ig_warehouse_t base;
    char root[IG_LOCATION_MAX];    /* "/abs/path", no trailing '/' */
    char uri[IG_LOCATION_MAX + 8]; /* "file://" + root */
    char name[256];
    size_t root_len;
    int rootfd;
} file_wh_t;

static int io_fail(ig_error_t *err, const char *what, const char *rel, int e)
{
    ig_warn("warehouse: %s %s: %s", what, rel, strerror(e));
    return ig_error_set(err, IG_E_INTERNAL, "warehouse I/O error: %s %s: %s", what, rel,
                        strerror(e));
}

/* Path part of a location: "file:///p" and "file:/p" give "/p", "/p" itself; NULL for anything else
 * (other schemes, "file://host/p"). */
static const char *path_of(const char *loc)
{
    if (strncmp(loc, "file://", 7) == 0) return loc[7] == '/' ? loc + 7 : NULL;
    if (strncmp(loc, "file:/", 6) == 0) return loc + 5;
    if (loc[0] == '/') return loc;
    return NULL;
}

/* loc -> path relative to the root (no leading or trailing '/').  400 unless strictly inside the root. */
static int to_rel(const file_wh_t *w, const char *loc, char *rel, size_t cap, ig_error_t *err)
{
    const char *p = loc ? path_of(loc) : NULL;
    if (!p)
        return ig_error_set(err, IG_E_BAD_REQUEST,
                            "location must be a file:// URI inside the warehouse %s: %.200s", w->uri,
                            loc ? loc : "(none)");
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        len--;
    if (len <= w->root_len + 1 || memcmp(p, w->root, w->root_len) != 0 || p[w->root_len] != '/')
        return ig_error_set(err, IG_E_BAD_REQUEST, "location is outside the warehouse %s: %.200s",
                            w->uri, loc);
    const char *r = p + w->root_len + 1;
    size_t rl = len - w->root_len - 1;
    if (rl + 1 > cap || w->root_len + rl + 16 > IG_LOCATION_MAX)
        return ig_error_set(err, IG_E_BAD_REQUEST, "location is too long: %.200s", loc);
    if (ig_wh_check_segments(r, rl, loc, err)) return -1;
    memcpy(rel, r, rl);
    rel[rl] = '\0';
    return 0;
}

static int file_canonical(const ig_warehouse_t *wh, const char *loc, char *out, size_t cap, ig_error_t *err)
{
    const file_wh_t *w = (const file_wh_t *)wh;
    char rel[IG_LOCATION_MAX];
    if (to_rel(w, loc, rel, sizeof rel, err)) return -1;
    if ((size_t)snprintf(out, cap, "%s/%s", w->uri, rel) >= cap)
        return ig_error_set(err, IG_E_BAD_REQUEST, "location is too long: %.200s", loc);
    return 0;
}

enum { DIR_OPEN, DIR_CREATE, DIR_CREATE_SYNCED };

/* Opens directory rel (relative to the root, "" = root itself) without following any symlink, creating
 * missing directories with DIR_CREATE (and fsyncing each parent so the new entry is durable with
 * DIR_CREATE_SYNCED).  The caller closes the returned descriptor. */
static int open_dir(file_wh_t *w, const char *rel, int create, ig_error_t *err)
{
    int fd = openat(w->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_fail(err, "open", "(root)", errno);
    const char *p = rel;
    char seg[NAME_MAX + 1];
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || n > NAME_MAX) {
            close(fd);
            return ig_error_set(err, IG_E_BAD_REQUEST, "location segment too long or empty: %.200s",
                                rel);
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        int nfd = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, seg, 0755) != 0 && errno != EEXIST) {
                int en = errno;
                close(fd);
                return io_fail(err, "mkdir", rel, en);
            }
            if (create == DIR_CREATE_SYNCED) (void)fsync(fd);
            nfd = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nfd < 0) {
            int en = errno;
            close(fd);
            if (en == ELOOP || en == ENOTDIR)
                return ig_error_set(err, IG_E_BAD_REQUEST,
                                    "location crosses a symbolic link or a file inside the warehouse: %.200s",
                                    rel);
            if (en == ENOENT)
                return ig_error_set(err, IG_E_NOT_FOUND, "no such directory: %.200s", rel);
            return io_fail(err, "open", rel, en);
        }
        close(fd);
        fd = nfd;
        p += n;
        if (*p == '/') p++;
    }
    return fd;
}

/* Splits rel "a/b/c" into dir "a/b" and base "c". */
static void split_rel(const char *rel, char *dir, size_t dcap, const char **base)
{
    const char *s = strrchr(rel, '/');
    size_t n = s ? (size_t)(s - rel) : 0;
    if (n >= dcap) n = dcap - 1;
    memcpy(dir, rel, n);
    dir[n] = '\0';
    *base = s ? s + 1 : rel;
}

static const ig_warehouse_ops_t file_ops;
static void file_close(ig_warehouse_t *wh);

ig_warehouse_t *ig_warehouse_file_open(const char *uri, ig_error_t *err)
{
    const char *p = uri ? path_of(uri) : NULL;
    if (!p) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouse must be a file:// URI: %s",
                     uri ? uri : "(none)");
        return NULL;
    }
    file_wh_t *w = calloc(1, sizeof *w);
    if (!w) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    w->rootfd = -1;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        len--;
    if (len + 1 > sizeof w->root || len < 2) {
        ig_error_set(err, IG_E_INTERNAL, "catalog.warehouse path is too long or is '/': %s",
                     uri);
        goto fail;
    }
    memcpy(w->root, p, len);
    w->root[len] = '\0';
    w->root_len = len;
    if (ig_wh_check_segments(w->root + 1, len - 1, uri, err)) {
        ig_error_set(err, IG_E_INTERNAL,
                     "catalog.warehouse must be a normalised absolute path (no '.', '..' or '//'): %s", uri);
        goto fail;
    }
    snprintf(w->uri, sizeof w->uri, "file://%s", w->root);
    snprintf(w->name, sizeof w->name, "%s", strrchr(w->root, '/') + 1);
    if (ig_mkdirs(w->root) != 0) {
        ig_error_set(err, IG_E_INTERNAL, "cannot create the warehouse directory %s: %s",
                     w->root, strerror(errno));
        goto fail;
    }
    w->rootfd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->rootfd < 0) {
        ig_error_set(err, IG_E_INTERNAL, "cannot open the warehouse directory %s: %s",
                     w->root, strerror(errno));
        goto fail;
    }
    w->base = (ig_warehouse_t){.ops = &file_ops, .uri = w->uri, .name = w->name, .max_bytes = IG_WAREHOUSE_MAX_FILE};
    return &w->base;
fail:
    file_close(&w->base);
    return NULL;
}

static void file_close(ig_warehouse_t *wh)
{
    file_wh_t *w = (file_wh_t *)wh;
    if (!w) return;
    if (w->rootfd >= 0) close(w->rootfd);
    free(w);
}

/* 1 if directory rel exists and has an entry, 0 if missing or empty, -1 on error. */
static int dir_nonempty(file_wh_t *w, const char *rel, ig_error_t *err)
{
    ig_error_t e2;
    int fd = open_dir(w, rel, DIR_OPEN, &e2);
    if (fd < 0) {
        if (ig_error_status(&e2) == 404) return 0;
        if (err) *err = e2;
        return -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return io_fail(err, "opendir", rel, errno);
    }
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            found = 1;
            break;
        }
    closedir(d);
    return found;
}

static int file_default_location(ig_warehouse_t *wh, const char *const *levels, size_t n, const char *name,
                                  char *out, size_t cap, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    char rel[IG_LOCATION_MAX];
    size_t len = 0;
    if (ig_wh_default_rel(levels, n, name, rel, sizeof rel, &len)) goto toolong;
    if (w->root_len + len + 80 > IG_LOCATION_MAX) goto toolong;
    int used = dir_nonempty(w, rel, err);
    if (used < 0) return -1;
    if (used) ig_wh_suffix(rel, sizeof rel, len);
    if ((size_t)snprintf(out, cap, "%s/%s", w->uri, rel) >= cap) goto toolong;
    return 0;
toolong:
    return ig_error_set(err, IG_E_BAD_REQUEST, "identifier too long for a table location");
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* A metadata file being written: its temp file, written and open, in its folder (open too). */
struct ig_wh_staged {
    int dfd, fd;
    char dir[IG_LOCATION_MAX]; /* the folder, relative to the root */
    char name[96], tmp[112];
    bool renamed;
};

static void staged_drop(ig_wh_staged_t *p)
{
    if (p->fd >= 0) close(p->fd);
    unlinkat(p->dfd, p->renamed ? p->name : p->tmp, 0);
    close(p->dfd);
    free(p);
}

static ig_wh_staged_t *file_stage(ig_warehouse_t *wh, const char *location, int64_t version, const char *json,
                                  size_t len, char *out, size_t cap, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    ig_wh_staged_t *p = calloc(1, sizeof *p);
    if (!p) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        return NULL;
    }
    char uuid[37];
    p->fd = -1;
    if (to_rel(w, location, p->dir, sizeof p->dir, err)) goto fail;
    ig_uuid4(uuid);
    if (version < 0 || version > 99999999) version = 0;
    snprintf(p->name, sizeof p->name, "%05lld-%s.metadata.json", (long long)version, uuid);
    snprintf(p->tmp, sizeof p->tmp, ".%s.tmp", p->name);
    if ((size_t)snprintf(out, cap, "%s/%s/%s", w->uri, p->dir, p->name) >= cap) {
        ig_error_set(err, IG_E_BAD_REQUEST, "location is too long: %.200s", location);
        goto fail;
    }
    if ((p->dfd = open_dir(w, p->dir, wh->lazy ? DIR_CREATE : DIR_CREATE_SYNCED, err)) < 0) goto fail;
    p->fd = openat(p->dfd, p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (p->fd < 0) {
        io_fail(err, "create", p->dir, errno);
        close(p->dfd);
        goto fail;
    }
    if (write_all(p->fd, json, len) != 0) {
        io_fail(err, "write", p->dir, errno);
        staged_drop(p);
        return NULL;
    }
    /* Start writing the data out now: the batch's later files are built while this one is on its way, and
     * the fsync at publish waits for less (advice only: an error here is found again by that fsync).  A lazy
     * write leaves it to the write-back and the flusher's sync. */
    if (!wh->lazy) (void)sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    return p;
fail:
    free(p);
    return NULL;
}

/* True when an earlier entry of v[0..i) is in the same folder (synced once for all). */
static bool dir_seen(ig_wh_staged_t *const *v, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(v[j]->dir, v[i]->dir) == 0) return true;
    return false;
}

/* Each file synced (on ext4 the first sync's journal commit usually carries the data of all of them, and the
 * others return at once), renamed into place (NOREPLACE: the uuid makes the name unique, an existing file is
 * never clobbered anyway), then each folder synced once: n files cost about two syncs, not 2n.  A lazy
 * warehouse (the store keeps the bytes until ig_warehouse_sync) renames without a sync. */
static int file_publish(ig_warehouse_t *wh, ig_wh_staged_t *const *v, size_t n, ig_error_t *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((!wh->lazy && fsync(v[i]->fd) != 0) || close(v[i]->fd) != 0)
            rc = io_fail(err, "write", v[i]->dir, errno);
        v[i]->fd = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int r = renameat2(v[i]->dfd, v[i]->tmp, v[i]->dfd, v[i]->name, RENAME_NOREPLACE);
        if (r != 0 && (errno == EINVAL || errno == ENOSYS)) r = renameat(v[i]->dfd, v[i]->tmp, v[i]->dfd, v[i]->name);
        if (r != 0) rc = io_fail(err, "rename", v[i]->dir, errno);
        else v[i]->renamed = true;
    }
    for (size_t i = 0; !wh->lazy && rc == 0 && i < n; i++)
        if (!dir_seen(v, i) && fsync(v[i]->dfd) != 0) rc = io_fail(err, "fsync", v[i]->dir, errno);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            close(v[i]->dfd);
            free(v[i]);
        } else {
            staged_drop(v[i]);
        }
    }
    return rc;
}

/* Writes a pending file again, durably, under its own name (replacing what a crash left there): a temp
 * file, fsync, rename, fsync of the folder, every folder made on the way synced into its parent. */
static int file_restore(ig_warehouse_t *wh, const char *loc, const char *body, size_t len, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    char rel[IG_LOCATION_MAX], dir[IG_LOCATION_MAX], tmp[NAME_MAX + 1];
    const char *base;
    if (to_rel(w, loc, rel, sizeof rel, err)) return -1;
    split_rel(rel, dir, sizeof dir, &base);
    if (strlen(base) + 16 > sizeof tmp)
        return ig_error_set(err, IG_E_BAD_REQUEST, "file name too long: %.200s", loc);
    snprintf(tmp, sizeof tmp, ".%s.tmp", base);
    int dfd = open_dir(w, dir, DIR_CREATE_SYNCED, err);
    if (dfd < 0) return -1;
    int rc = 0, fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, body, len) != 0 || fsync(fd) != 0) rc = io_fail(err, "write", dir, errno);
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = io_fail(err, "write", dir, errno);
    if (rc == 0 && renameat(dfd, tmp, dfd, base) != 0) rc = io_fail(err, "rename", dir, errno);
    if (rc == 0 && fsync(dfd) != 0) rc = io_fail(err, "fsync", dir, errno);
    if (rc) unlinkat(dfd, tmp, 0);
    close(dfd);
    return rc;
}

/* Everything written lazily so far is durable once this returns 0: one syncfs(2) of the warehouse's file
 * system (it reports write-back errors since Linux 5.8), which covers the files, their folders and the
 * folders made for them, however many. */
static int file_sync(ig_warehouse_t *wh, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    if (syncfs(w->rootfd) != 0) return io_fail(err, "syncfs", "(root)", errno);
    return 0;
}

static void file_unstage(ig_warehouse_t *wh, ig_wh_staged_t *p)
{
    (void)wh;
    if (p) staged_drop(p);
}

/* Opens the parent directory of a file location; *base points into rel. */
static int open_parent(file_wh_t *w, const char *loc, char *rel, size_t cap, const char **base,
                       ig_error_t *err)
{
    char dir[IG_LOCATION_MAX];
    if (to_rel(w, loc, rel, cap, err)) return -1;
    split_rel(rel, dir, sizeof dir, base);
    return open_dir(w, dir, DIR_OPEN, err);
}

static int file_read(ig_warehouse_t *wh, const char *loc, char **buf, size_t *len, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    char rel[IG_LOCATION_MAX];
    const char *base;
    *buf = NULL;
    *len = 0;
    int dfd = open_parent(w, loc, rel, sizeof rel, &base, err);
    if (dfd < 0) {
        if (err && ig_error_status(err) == 404) ig_error_set(err, IG_E_NOT_FOUND, "no such file: %.300s", loc);
        return -1;
    }
    /* O_NONBLOCK: opening a FIFO planted in the warehouse would otherwise block this worker until a writer
     * comes; it has no effect on a regular file, and anything else is refused below. */
    int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int en = errno;
    close(dfd);
    if (fd < 0) {
        if (en == ENOENT) return ig_error_set(err, IG_E_NOT_FOUND, "no such file: %.300s", loc);
        if (en == ELOOP)
            return ig_error_set(err, IG_E_BAD_REQUEST, "file is a symbolic link: %.300s", loc);
        return io_fail(err, "open", rel, en);
    }
    struct stat sb;
    char *b = NULL;
    if (fstat(fd, &sb) != 0) {
        io_fail(err, "stat", rel, errno);
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        ig_error_set(err, IG_E_BAD_REQUEST, "not a regular file: %.300s", loc);
        goto fail;
    }
    if (sb.st_size > w->base.max_bytes) {
        ig_error_set(err, IG_E_BAD_REQUEST, "file larger than %lld bytes (catalog.max_metadata_bytes): %.300s",
                     (long long)w->base.max_bytes, loc);
        goto fail;
    }
    size_t want = (size_t)sb.st_size, got = 0;
    b = malloc(want + 1);
    if (!b) {
        ig_error_set(err, IG_E_INTERNAL, "out of memory");
        goto fail;
    }
    while (got < want) {
        ssize_t k = read(fd, b + got, want - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            io_fail(err, "read", rel, errno);
            goto fail;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    close(fd);
    b[got] = '\0';
    *buf = b;
    *len = got;
    return 0;
fail:
    free(b);
    close(fd);
    return -1;
}

/* The parent directory of loc; -2 when a directory on the way does not exist (so neither does loc), or -1
 * with *err filled. */
static int open_parent_if_any(file_wh_t *w, const char *loc, char *rel, size_t cap, const char **base,
                              ig_error_t *err)
{
    ig_error_t e2;
    int dfd = open_parent(w, loc, rel, cap, base, &e2);
    if (dfd >= 0) return dfd;
    if (ig_error_status(&e2) == 404) return -2;
    if (err) *err = e2;
    return -1;
}

static int file_remove(ig_warehouse_t *wh, const char *loc, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    char rel[IG_LOCATION_MAX];
    const char *base;
    int dfd = open_parent_if_any(w, loc, rel, sizeof rel, &base, err);
    if (dfd < 0) return dfd == -2 ? 0 : -1;
    int r = unlinkat(dfd, base, 0);
    int en = errno;
    close(dfd);
    if (r != 0 && en != ENOENT) return io_fail(err, "unlink", rel, en);
    return 0;
}

/* Removes entry `name` of directory dfd and, for a directory, everything below it. */
static int rm_tree(int dfd, const char *name, int depth, ig_error_t *err)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
    if (errno != EISDIR && errno != EPERM) return io_fail(err, "unlink", name, errno);
    if (depth > IG_WH_MAX_DEPTH)
        return ig_error_set(err, IG_E_INTERNAL, "directory tree too deep");
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return io_fail(err, "open", name, errno);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return io_fail(err, "opendir", name, errno);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        rc = rm_tree(dirfd(d), de->d_name, depth + 1, err);
    }
    closedir(d);
    if (rc) return rc;
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return io_fail(err, "rmdir", name, errno);
    return 0;
}

static int file_purge(ig_warehouse_t *wh, const char *loc, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    char rel[IG_LOCATION_MAX];
    const char *base;
    int dfd = open_parent_if_any(w, loc, rel, sizeof rel, &base, err);
    if (dfd < 0) return dfd == -2 ? 0 : -1;
    int rc = rm_tree(dfd, base, 0, err);
    if (rc == 0) (void)fsync(dfd);
    close(dfd);
    return rc;
}

static int file_exists(ig_warehouse_t *wh, const char *loc, ig_error_t *err)
{
    file_wh_t *w = (file_wh_t *)wh;
    char rel[IG_LOCATION_MAX];
    const char *base;
    int dfd = open_parent_if_any(w, loc, rel, sizeof rel, &base, err);
    if (dfd < 0) return dfd == -2 ? 0 : -1;
    struct stat sb;
    int r = fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW);
    int en = errno;
    close(dfd);
    if (r == 0) return 1;
    if (en == ENOENT) return 0;
    return io_fail(err, "stat", rel, en);
}

/* A temp file write_metadata leaves when the process dies between create and rename: ".<name>.tmp" with
 * <name> a metadata file's name. */
static bool is_temp(const char *n)
{
    size_t len = strlen(n), suf = sizeof ".metadata.json.tmp" - 1;
    return n[0] == '.' && len > suf + 1 && strcmp(n + len - suf, ".metadata.json.tmp") == 0;
}

/* Removes the temp files older than before_s below directory fd (closed here); data/ folders, which hold
 * only data files, are not walked.  Stops early once *stop is set. */
static void sweep_dir(int fd, int depth, int64_t before_s, const _Atomic bool *stop, int64_t *removed)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while (!atomic_load(stop) && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
        struct stat sb;
        if (fstatat(dirfd(d), n, &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISREG(sb.st_mode) && is_temp(n) && sb.st_mtime < before_s) {
            if (unlinkat(dirfd(d), n, 0) == 0) ++*removed;
        } else if (S_ISDIR(sb.st_mode) && depth < IG_WH_MAX_DEPTH && strcmp(n, "data") != 0) {
            int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) sweep_dir(sub, depth + 1, before_s, stop, removed);
        }
    }
    closedir(d);
}

static int64_t file_sweep_temps(ig_warehouse_t *wh, int64_t before_s, const _Atomic bool *stop)
{
    file_wh_t *w = (file_wh_t *)wh;
    int64_t removed = 0;
    int fd = openat(w->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) sweep_dir(fd, 0, before_s, stop, &removed);
    return removed;
}

static const ig_warehouse_ops_t file_ops = {
    .scheme = "file",
    .supports = IG_WAREHOUSE_RENAME | IG_WAREHOUSE_LAZY,
    .close = file_close,
    .canonical = file_canonical,
    .default_location = file_default_location,
    .stage = file_stage,
    .publish = file_publish,
    .unstage = file_unstage,
    .restore = file_restore,
    .sync = file_sync,
    .read = file_read,
    .remove = file_remove,
    .purge = file_purge,
    .exists = file_exists,
    .sweep_temps = file_sweep_temps,
};
