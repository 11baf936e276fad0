/* Test helpers for the Iceberg metadata unit tests (test_tablemeta, test_viewmeta): JSON literals written
 * with ' for " (J()), the metadata documents in tests/unit/fixtures/ (fixture()), checked member access
 * that fails the test instead of crashing, and expect_ok / expect_fail on an ig_error_t.
 *
 * A file that defines FX_COMMIT(cur, reqs, ups, out, err) (the commit under test, taking parsed lists) and
 * FX_VALIDATE(meta, err) before including this header also gets commit(), commit_ok() and commit_fails(),
 * which take the requirement and update lists as JSON text (NULL = none).
 * Everything here is static inline: each test is its own binary. */
#ifndef IG_TEST_FIXTURES_H
#define IG_TEST_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/error.h"

/* Parses s after turning every ' into "; fails the test on bad JSON.  The caller owns the result. */
static inline json_object *J(const char *s)
{
    char *buf = strdup(s);
    assert_non_null(buf);
    for (char *p = buf; *p; p++)
        if (*p == '\'') *p = '"';
    json_object *o = json_tokener_parse(buf);
    if (!o) fail_msg("bad JSON in test: %s", buf);
    free(buf);
    return o;
}

/* The fixtures live in fixtures/ beside this header, found through __FILE__ (the header's path as the
 * compiler was given it: tests/unit/fixtures.h when make runs at the repository root), so no build flag
 * names them.  fixture_at() tries <base>/<dir of this header>/fixtures/<name>, base "" (the working
 * directory, or an absolute __FILE__) first; when the test runs from elsewhere, the folders above the test
 * binary (build/tests/ -> the repository root) are tried as bases too. */
static inline json_object *fixture_at(const char *base, const char *name, char *path, size_t size)
{
    const char *here = __FILE__, *slash = strrchr(here, '/');
    int dirlen = slash ? (int)(slash - here) + 1 : 0;
    int n = snprintf(path, size, "%s%s%.*sfixtures/%s", base, base[0] ? "/" : "", dirlen, here, name);
    return n > 0 && (size_t)n < size ? json_object_from_file(path) : NULL;
}

/* Reads fixture file name (tests/unit/fixtures/<name>); fails the test when it cannot.  The caller owns
 * the result. */
static inline json_object *fixture(const char *name)
{
    char path[4096], dir[4096];
    json_object *o = fixture_at("", name, path, sizeof path);
    if (!o && __FILE__[0] != '/') {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        dir[n > 0 ? n : 0] = '\0';
        for (char *cut; !o && (cut = strrchr(dir, '/')) && cut > dir;) {
            *cut = '\0';
            o = fixture_at(dir, name, path, sizeof path);
        }
    }
    if (!o) fail_msg("cannot read fixture %s (tests/unit/fixtures/%s)", path, name);
    return o;
}

/* Member k of o, or NULL (borrowed). */
static inline json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

/* Member k of o as an integer / a string (borrowed); fails the test when missing or of another type. */
static inline int64_t geti(json_object *o, const char *k)
{
    json_object *v = get(o, k);
    if (!v || !json_object_is_type(v, json_type_int)) fail_msg("field %s missing or not an int", k);
    return json_object_get_int64(v);
}

static inline const char *gets(json_object *o, const char *k)
{
    json_object *v = get(o, k);
    if (!v || !json_object_is_type(v, json_type_string)) fail_msg("field %s missing or not a string", k);
    return json_object_get_string(v);
}

/* Element i of array arr (borrowed) / the length of arr; fail the test when arr is not an array (or i is
 * out of range). */
static inline json_object *idx(json_object *arr, size_t i)
{
    assert_true(json_object_is_type(arr, json_type_array));
    assert_true(i < json_object_array_length(arr));
    return json_object_array_get_idx(arr, i);
}

static inline size_t len(json_object *arr)
{
    assert_true(json_object_is_type(arr, json_type_array));
    return json_object_array_length(arr);
}

#define expect_fail(rc, err, want_code, substr)                                                              \
    do {                                                                                                     \
        assert_int_equal((rc), -1);                                                                          \
        assert_int_equal(ig_error_status(&(err)), (want_code));                                                           \
        if (!strstr((err).message, (substr)))                                                                \
            fail_msg("message \"%s\" lacks \"%s\"", (err).message, (substr));                                \
    } while (0)

#define expect_ok(rc, err)                                                                                   \
    do {                                                                                                     \
        if ((rc) != 0) fail_msg("unexpected failure %d %s: %s", ig_error_status(&(err)), ig_error_kind_type((err).kind), (err).message);      \
    } while (0)

#ifdef FX_COMMIT
/* FX_COMMIT with requirement/update lists given as JSON text (NULL = none). */
static inline int commit(json_object *cur, const char *reqs, const char *ups, json_object **out,
                         ig_error_t *err)
{
    json_object *r = reqs ? J(reqs) : NULL, *u = ups ? J(ups) : NULL;
    memset(err, 0, sizeof *err);
    int rc = FX_COMMIT(cur, r, u, out, err);
    json_object_put(r);
    json_object_put(u);
    return rc;
}

/* Applies ups to cur and expects failure with code and message substring. */
static inline void commit_fails(json_object *cur, const char *reqs, const char *ups, int code,
                                const char *substr)
{
    json_object *out = (json_object *)1;
    ig_error_t err;
    int rc = commit(cur, reqs, ups, &out, &err);
    expect_fail(rc, err, code, substr);
    assert_null(out);
}

/* Applies ups to cur, expects success and a result that passes FX_VALIDATE (returned, caller owns it). */
static inline json_object *commit_ok(json_object *cur, const char *reqs, const char *ups)
{
    json_object *out = NULL;
    ig_error_t err;
    int rc = commit(cur, reqs, ups, &out, &err);
    expect_ok(rc, err);
    assert_non_null(out);
    assert_int_equal(FX_VALIDATE(out, &err), 0);
    return out;
}
#endif

#endif
