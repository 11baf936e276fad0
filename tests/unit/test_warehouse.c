/* test_warehouse — location containment (schemes, '..', '.', empty segments, prefixes that only look like
 * the root, symlinks), metadata file names and versions, write/read round trip, atomic write leaving no
 * temporary file, purge that removes links but never what they point to. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "warehouse/warehouse.h"

typedef struct {
    char base[256]; /* temp dir */
    char root[300]; /* base/wh */
    char uri[320];
    ig_warehouse_t *w;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->base, sizeof f->base, "%s/icegate-wh-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->base)) return -1;
    snprintf(f->root, sizeof f->root, "%s/wh", f->base);
    snprintf(f->uri, sizeof f->uri, "file://%s/", f->root); /* trailing '/' is tolerated */
    ig_error_t err;
    f->w = ig_warehouse_open(f->uri, &err);
    if (!f->w) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[600];
    ig_warehouse_close(f->w);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->base);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

/* The location tested is pre + root + post. */
static void canon_ok(fx_t *f, const char *pre, const char *post, const char *want_rel)
{
    char loc[600], out[IG_LOCATION_MAX], want[600];
    ig_error_t err;
    snprintf(loc, sizeof loc, "%s%s%s", pre, f->root, post);
    snprintf(want, sizeof want, "file://%s/%s", f->root, want_rel);
    if (ig_warehouse_canonical(f->w, loc, out, sizeof out, &err) != 0)
        fail_msg("rejected %s: %s", loc, err.message);
    assert_string_equal(out, want);
}

static void canon_bad(fx_t *f, const char *pre, const char *post)
{
    char loc[600], out[IG_LOCATION_MAX];
    ig_error_t err = {0};
    snprintf(loc, sizeof loc, "%s%s%s", pre, f->root, post);
    if (ig_warehouse_canonical(f->w, loc, out, sizeof out, &err) == 0)
        fail_msg("accepted %s as %s", loc, out);
    assert_int_equal(ig_error_status(&err), 400);
    assert_string_equal(ig_error_kind_type(err.kind), "BadRequestException");
}

static void test_open_creates_root_and_names_it(void **state)
{
    fx_t *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->root, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_string_equal(ig_warehouse_name(f->w), "wh");
    char want[400];
    snprintf(want, sizeof want, "file://%s", f->root);
    assert_string_equal(ig_warehouse_uri(f->w), want);
    ig_error_t err;
    assert_null(ig_warehouse_open("s3://bucket/wh", &err));
    assert_null(ig_warehouse_open("file:///tmp/../etc", &err));
    assert_null(ig_warehouse_open("/", &err));
}

static void test_canonical_forms(void **state)
{
    fx_t *f = *state;
    canon_ok(f, "file://", "/db/t", "db/t");
    canon_ok(f, "file:", "/db/t", "db/t"); /* Hadoop's file:/path */
    canon_ok(f, "", "/db/t/", "db/t");
    canon_ok(f, "file://", "/db/t///", "db/t");
    canon_ok(f, "file://", "/a b/ü/..x/x..", "a b/ü/..x/x..");
}

static void test_canonical_rejects_escapes(void **state)
{
    fx_t *f = *state;
    canon_bad(f, "file://", ""); /* the root itself */
    canon_bad(f, "file://", "/");
    canon_bad(f, "file://", "/../x");
    canon_bad(f, "file://", "/db/../../x");
    canon_bad(f, "file://", "/./db");
    canon_bad(f, "file://", "/db//t");
    canon_bad(f, "file://", "/db/..");
    canon_bad(f, "file://", "2/db"); /* a sibling that shares the prefix */
    canon_bad(f, "file://", "db");
    canon_bad(f, "file://host", "/db"); /* a host part */
    canon_bad(f, "s3://bucket", "/db");
    canon_bad(f, "relative/", "");
    canon_bad(f, "file://", "/db/t\n");
    canon_bad(f, "", "x"); /* a relative path */
}

static void test_next_version(void **state)
{
    (void)state;
    assert_int_equal(ig_warehouse_next_version(NULL), 0);
    assert_int_equal(ig_warehouse_next_version("file:///w/t/metadata/00000-abc.metadata.json"), 1);
    assert_int_equal(ig_warehouse_next_version("file:///w/t/metadata/00041-abc.metadata.json"), 42);
    assert_int_equal(ig_warehouse_next_version("file:///w/t/metadata/v7.metadata.json"), 8);
    assert_int_equal(ig_warehouse_next_version("file:///w/t/metadata/custom.json"), 1);
}

/* Files in a folder, temp names included ("." and ".." not). */
static int entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Staged files are invisible (only their temp names exist) until a publish makes all of them durable and
 * visible at once; an unstaged one leaves nothing. */
static void test_stage_publish_unstage(void **state)
{
    fx_t *f = *state;
    char loc[600], dir[700], out[3][IG_LOCATION_MAX];
    ig_error_t err;
    snprintf(loc, sizeof loc, "file://%s/db/g/metadata", f->root);
    snprintf(dir, sizeof dir, "%s/db/g/metadata", f->root);
    ig_wh_staged_t *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = ig_warehouse_stage(f->w, loc, i + 1, "{}", 2, out[i], sizeof out[i], &err);
        if (!v[i]) fail_msg("stage: %s", err.message);
    }
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(ig_warehouse_read(f->w, out[0], &buf, &len, &err), -1); /* not under its name yet */
    assert_int_equal(entries(dir), 3);                                        /* three temp files */
    ig_warehouse_unstage(f->w, v[2]);
    assert_int_equal(entries(dir), 2);
    if (ig_warehouse_publish(f->w, v, 2, &err)) fail_msg("publish: %s", err.message);
    for (int i = 0; i < 2; i++) {
        if (ig_warehouse_read(f->w, out[i], &buf, &len, &err)) fail_msg("read: %s", err.message);
        assert_string_equal(buf, "{}");
        free(buf);
    }
    assert_int_equal(entries(dir), 2); /* the two files, no temp name left */
    /* the cap holds for a staged file too: nothing written */
    ig_warehouse_set_max_bytes(f->w, 1);
    assert_null(ig_warehouse_stage(f->w, loc, 9, "{}", 2, out[2], sizeof out[2], &err));
    assert_int_equal(ig_error_status(&err), 400);
    assert_int_equal(entries(dir), 2);
}

static void test_write_read_roundtrip(void **state)
{
    fx_t *f = *state;
    char loc[600], out[IG_LOCATION_MAX];
    ig_error_t err;
    snprintf(loc, sizeof loc, "file://%s/db/t/metadata", f->root); /* the metadata folder the caller picked */
    const char *json = "{\"format-version\":2,\"id\":9007199254740993}";
    if (ig_warehouse_write_metadata(f->w, loc, 3, json, strlen(json), out, sizeof out, &err))
        fail_msg("write: %s", err.message);
    char prefix[700];
    snprintf(prefix, sizeof prefix, "%s/00003-", loc);
    assert_int_equal(strncmp(out, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(out, ".metadata.json"));
    assert_int_equal(strlen(out), strlen(prefix) + 36 + strlen(".metadata.json"));
    char *buf = NULL;
    size_t len = 0;
    if (ig_warehouse_read(f->w, out, &buf, &len, &err)) fail_msg("read: %s", err.message);
    assert_int_equal(len, strlen(json));
    assert_string_equal(buf, json);
    free(buf);
    /* nothing else in the directory: the temporary name is gone */
    char dir[700];
    snprintf(dir, sizeof dir, "%s/db/t/metadata", f->root);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
        else
            assert_true(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
    closedir(d);
    assert_int_equal(n, 1);
    assert_int_equal(ig_warehouse_exists(f->w, out, &err), 1);
    assert_int_equal(ig_warehouse_remove(f->w, out, &err), 0);
    assert_int_equal(ig_warehouse_exists(f->w, out, &err), 0);
    assert_int_equal(ig_warehouse_remove(f->w, out, &err), 0); /* already gone: fine */
    err.kind = IG_E_NONE;
    assert_int_equal(ig_warehouse_read(f->w, out, &buf, &len, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
}

/* One cap on both paths (catalog.max_metadata_bytes): a document over it is refused before anything is
 * written, so what was written can always be read back; lowering the cap refuses reading a larger file. */
static void test_metadata_cap_on_write_and_read(void **state)
{
    fx_t *f = *state;
    char loc[600], out[IG_LOCATION_MAX], dir[700];
    ig_error_t err;
    snprintf(loc, sizeof loc, "file://%s/db/capped/metadata", f->root);
    ig_warehouse_set_max_bytes(f->w, 64);
    char big[65];
    memset(big, 'x', 64);
    big[64] = '\0';
    assert_int_equal(ig_warehouse_write_metadata(f->w, loc, 1, big, 64, out, sizeof out, &err), 0); /* at the cap */
    err.kind = IG_E_NONE;
    assert_int_equal(ig_warehouse_write_metadata(f->w, loc, 2, "{}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                                                 65, out, sizeof out, &err),
                     -1);
    assert_int_equal(err.kind, IG_E_BAD_REQUEST);
    assert_non_null(strstr(err.message, "catalog.max_metadata_bytes (64)"));
    snprintf(dir, sizeof dir, "%s/db/capped/metadata", f->root);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    assert_int_equal(n, 1); /* only the file at the cap: nothing of the refused one */
    char first[IG_LOCATION_MAX];
    assert_int_equal(ig_warehouse_write_metadata(f->w, loc, 3, big, 64, first, sizeof first, &err), 0);
    ig_warehouse_set_max_bytes(f->w, 32);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(ig_warehouse_read(f->w, first, &buf, &len, &err), -1);
    assert_null(buf);
    assert_non_null(strstr(err.message, "catalog.max_metadata_bytes"));
}

static void test_symlinks_are_never_followed(void **state)
{
    fx_t *f = *state;
    char outside[400], link[400], loc[600], out[IG_LOCATION_MAX], file[500];
    ig_error_t err = {0};
    snprintf(outside, sizeof outside, "%s/outside", f->base);
    assert_int_equal(mkdir(outside, 0755), 0);
    snprintf(file, sizeof file, "%s/secret.metadata.json", outside);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("{}", fp);
    fclose(fp);
    snprintf(link, sizeof link, "%s/link", f->root);
    assert_int_equal(symlink(outside, link), 0);

    /* writing through the link is refused and writes nothing outside */
    snprintf(loc, sizeof loc, "file://%s/link/t", f->root);
    assert_int_equal(ig_warehouse_write_metadata(f->w, loc, 0, "{}", 2, out, sizeof out, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    struct stat sb;
    char t[500];
    snprintf(t, sizeof t, "%s/t", outside);
    assert_int_not_equal(stat(t, &sb), 0);

    /* reading through the link is refused */
    char *buf = NULL;
    size_t len;
    snprintf(loc, sizeof loc, "file://%s/link/secret.metadata.json", f->root);
    assert_int_equal(ig_warehouse_read(f->w, loc, &buf, &len, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    assert_null(buf);

    /* a file that is itself a link is refused too */
    char flink[500];
    snprintf(flink, sizeof flink, "%s/f.metadata.json", f->root);
    assert_int_equal(symlink(file, flink), 0);
    snprintf(loc, sizeof loc, "file://%s/f.metadata.json", f->root);
    assert_int_equal(ig_warehouse_read(f->w, loc, &buf, &len, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);

    /* purge of a table holding a link removes the link, not its target */
    char tdir[500], tlink[600];
    snprintf(tdir, sizeof tdir, "%s/db/victim/data", f->root);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tdir);
    assert_int_equal(system(cmd), 0);
    snprintf(tlink, sizeof tlink, "%s/escape", tdir);
    assert_int_equal(symlink(outside, tlink), 0);
    snprintf(loc, sizeof loc, "file://%s/db/victim", f->root);
    if (ig_warehouse_purge(f->w, loc, &err)) fail_msg("purge: %s", err.message);
    assert_int_equal(ig_warehouse_exists(f->w, loc, &err), 0);
    assert_int_equal(stat(file, &sb), 0);
    /* purging a path through the link is refused; the root itself cannot be named */
    snprintf(loc, sizeof loc, "file://%s/link/x", f->root);
    assert_int_equal(ig_warehouse_purge(f->w, loc, &err), -1);
    snprintf(loc, sizeof loc, "file://%s", f->root);
    assert_int_equal(ig_warehouse_purge(f->w, loc, &err), -1);
    assert_int_equal(stat(f->root, &sb), 0);
    assert_int_equal(stat(file, &sb), 0);
}

static void test_default_location(void **state)
{
    fx_t *f = *state;
    char out[IG_LOCATION_MAX], want[600];
    ig_error_t err;
    const char *levels[] = {"a/b", ".hidden", "ok"};
    assert_int_equal(ig_warehouse_default_location(f->w, levels, 3, "..", out, sizeof out, &err), 0);
    snprintf(want, sizeof want, "file://%s/a%%2Fb/%%2Ehidden/ok/%%2E.", f->root);
    assert_string_equal(out, want);
    char canon[IG_LOCATION_MAX];
    assert_int_equal(ig_warehouse_canonical(f->w, out, canon, sizeof canon, &err), 0);

    /* a non-empty directory at the default location gets a suffix */
    const char *one[] = {"db"};
    assert_int_equal(ig_warehouse_default_location(f->w, one, 1, "t", out, sizeof out, &err), 0);
    snprintf(want, sizeof want, "file://%s/db/t", f->root);
    assert_string_equal(out, want);
    assert_int_equal(ig_warehouse_write_metadata(f->w, out, 0, "{}", 2, canon, sizeof canon, &err), 0);
    assert_int_equal(ig_warehouse_default_location(f->w, one, 1, "t", out, sizeof out, &err), 0);
    assert_int_equal(strncmp(out, want, strlen(want)), 0);
    assert_int_equal(strlen(out), strlen(want) + 9);
    assert_int_equal(out[strlen(want)], '-');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_root_and_names_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonical_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonical_rejects_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_publish_unstage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_are_never_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_cap_on_write_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_location, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
