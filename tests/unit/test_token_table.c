/* test_token_table — access tokens end to end below HTTP (DESIGN.md section 3): the create/PATCH body rules
 * (every refusal a 400 naming its field), the lifecycle on a live table (the very next lookup sees a
 * suspend; a PATCH keeps the rate-limit cell), table growth with tombstones, changes made by another process
 * (a second token table on the same SQLite file, as the CLI is), epoch-based reclamation under a reader, a
 * reader/writer stress run, the per-second counters, and what a member may lift (an admin's suspension or
 * Max RPS: 403, checked on the row the compare-and-set writes).  Each test gets a fresh temp dir and database.
 *
 * Reclamation is checked directly under AddressSanitizer: a record a reader still holds must not be poisoned
 * (freed) after the writer's reclaim, and must be once the reader has left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "core/clock.h"
#include "access/token.h"
#include "access/token_table.h"
#include "core/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define NOW_MS 1800000000000LL /* 2027-01-15T08:00:00Z: a fixed "now" for the validation tests */

#define assert_contains(hay, needle)                                                                         \
    do {                                                                                                     \
        if (!strstr((hay), (needle))) fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));           \
    } while (0)

/* ------------------------------------------------------------------ fixture */

/* Who makes the changes: an admin for every test but the ones about what a member may lift. */
static const ig_principal_t test_admin = {.ok = true, .role = IG_ROLE_ADMIN, .user = "root"};

typedef struct {
    char dir[256];
    char db[300];
    ig_store_t *st;
    ig_token_table_t *ts;
} env_t;

static void db_path(env_t *e)
{
    snprintf(e->db, sizeof e->db, "%s/icegate.db", e->dir);
}

static int teardown(void **state);

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    if (!e) return -1;
    *state = e;
    const char *tmp = getenv("TMPDIR");
    snprintf(e->dir, sizeof e->dir, "%s/icegate-token-table-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->dir)) goto fail;
    db_path(e);
    ig_error_t err;
    e->st = ig_store_sqlite_open(e->db, &err);
    if (!e->st) goto fail;
    e->ts = ig_token_table_new(e->st, true, true);
    if (!e->ts || ig_token_table_load(e->ts, &err)) goto fail;
    return 0;
fail: /* cmocka skips the teardown of a test whose setup failed */
    teardown(state);
    *state = NULL;
    return -1;
}

static void remove_db(const char *dir)
{
    static const char *const files[] = {"icegate.db", "icegate.db-wal", "icegate.db-shm",
                                        "icegate.db-journal"};
    char p[400];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int teardown(void **state)
{
    env_t *e = *state;
    if (!e) return 0;
    ig_token_table_free(e->ts);
    ig_store_close(e->st);
    remove_db(e->dir);
    free(e);
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static ig_token_spec_t named(const char *name)
{
    ig_token_spec_t s;
    memset(&s, 0, sizeof s);
    s.has_name = true;
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

static void create_ok(ig_token_table_t *ts, const char *owner, const ig_token_spec_t *spec, char *secret,
                      ig_token_row_t *rec)
{
    ig_error_t err = {0};
    int rc = ig_token_table_create(ts, &test_admin, owner, spec, secret, rec, &err);
    if (rc) fail_msg("create %s/%s: %d %s", owner, spec->name, ig_error_status(&err), err.message);
    assert_int_equal(ig_token_check(secret, strlen(secret)), IG_TOKEN_OK);
}

static void hash_of(const char *secret, uint8_t h[32])
{
    ig_token_hash(secret, strlen(secret), h);
}

/* Looks the secret up in ts; the result is valid only inside the caller's read section. */
/* What authentication sees: the live record for this secret, or NULL (unknown or deleted). */
static const ig_token_entry_t *find_secret(ig_token_table_t *ts, const char *secret)
{
    uint8_t h[32];
    hash_of(secret, h);
    const ig_token_entry_t *m = ig_token_table_find(ts, h);
    return m && !m->deleted ? m : NULL;
}

/* Parses json text (or takes body when text is NULL) through ig_token_spec_from_json at NOW_MS. */
static int spec_parse(const char *text, json_object *body, bool for_create, ig_token_spec_t *spec,
                      ig_error_t *err)
{
    json_object *o = text ? json_tokener_parse(text) : body;
    memset(err, 0, sizeof *err);
    int rc = ig_token_spec_from_json(o, for_create, NOW_MS, spec, err);
    json_object_put(o);
    return rc;
}

/* The body must be refused with 400 BadRequestException whose message starts with "<field>:". */
static void refused_on(const char *text, json_object *body, bool for_create, const char *field)
{
    ig_token_spec_t spec;
    ig_error_t err;
    int rc = spec_parse(text, body, for_create, &spec, &err);
    if (rc != -1) fail_msg("accepted: %s", text ? text : "(object)");
    assert_int_equal(ig_error_status(&err), 400);
    assert_string_equal(ig_error_kind_type(err.kind), "BadRequestException");
    char want[64];
    snprintf(want, sizeof want, "%s:", field);
    if (strncmp(err.message, want, strlen(want)) != 0)
        fail_msg("%s: message \"%s\" does not start with \"%s\"", text ? text : "(object)", err.message,
                 want);
}

static json_object *body_with_name(const char *name)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    return o;
}

/* n copies of the UTF-8 character c. */
static void repeat(char *out, size_t cap, const char *c, int n)
{
    size_t cl = strlen(c), len = 0;
    for (int i = 0; i < n; i++) {
        assert_true(len + cl < cap);
        memcpy(out + len, c, cl);
        len += cl;
    }
    out[len] = '\0';
}

/* ------------------------------------------------------------------ validation */

static void test_spec_name_errors(void **state)
{
    (void)state;
    char buf[600];
    refused_on("{}", NULL, true, "name");
    refused_on("{\"maxRps\":5}", NULL, true, "name");
    refused_on("{\"name\":\"\"}", NULL, true, "name");
    refused_on("{\"name\":\"\"}", NULL, false, "name"); /* PATCH may omit the name, not empty it */
    refused_on("{\"name\":null}", NULL, true, "name");
    refused_on("{\"name\":5}", NULL, true, "name");
    repeat(buf, sizeof buf, "a", 101);
    refused_on(NULL, body_with_name(buf), true, "name");
    refused_on("{\"name\":\"a\\u0001b\"}", NULL, true, "name");
    refused_on("{\"name\":\"tab\\there\"}", NULL, true, "name");
    refused_on("{\"name\":\"del\\u007f\"}", NULL, true, "name");
    refused_on("{\"name\":\"c1\\u0085\"}", NULL, true, "name");
    refused_on(NULL, body_with_name("bad\xc3("), true, "name");         /* truncated sequence */
    refused_on(NULL, body_with_name("over\xc0\xaflong"), true, "name"); /* overlong '/' */
    refused_on(NULL, body_with_name("\xff"), true, "name");
    refused_on(NULL, body_with_name("cut\xe2\x82"), true, "name");
    refused_on("{\"name\":\" lead\"}", NULL, true, "name");
    refused_on("{\"name\":\"trail \"}", NULL, true, "name");

    ig_token_spec_t spec;
    ig_error_t err;
    assert_int_equal(spec_parse("{\"name\":\"\"}", NULL, true, &spec, &err), -1);
    assert_contains(err.message, "empty");
    assert_int_equal(spec_parse("{\"name\":\" x\"}", NULL, true, &spec, &err), -1);
    assert_contains(err.message, "space");
    assert_int_equal(spec_parse(NULL, body_with_name("\xff"), true, &spec, &err), -1);
    assert_contains(err.message, "UTF-8");
    assert_int_equal(spec_parse("{}", NULL, true, &spec, &err), -1);
    assert_contains(err.message, "required");
}

static void test_spec_name_lengths_count_characters(void **state)
{
    (void)state;
    char buf[600];
    ig_token_spec_t spec;
    ig_error_t err;
    /* 100 characters of 1, 2, 3 and 4 bytes are accepted; 101 are not, whichever check catches them. */
    static const char *const chars[] = {"a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x94\x91"};
    for (size_t i = 0; i < 4; i++) {
        repeat(buf, sizeof buf, chars[i], 100);
        if (spec_parse(NULL, body_with_name(buf), true, &spec, &err))
            fail_msg("100 x %zu-byte characters refused: %s", i + 1, err.message);
        assert_true(spec.has_name);
        assert_string_equal(spec.name, buf);
        repeat(buf, sizeof buf, chars[i], 101);
        refused_on(NULL, body_with_name(buf), true, "name");
        assert_int_equal(spec_parse(NULL, body_with_name(buf), true, &spec, &err), -1);
        assert_contains(err.message, "100");
    }
}

static void test_spec_max_rps_errors(void **state)
{
    (void)state;
    refused_on("{\"name\":\"x\",\"maxRps\":0}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":-1}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":-0.5}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":\"5\"}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":true}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":[5]}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":1e7}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":1000001}", NULL, true, "maxRps");
    refused_on("{\"name\":\"x\",\"maxRps\":1e400}", NULL, true, "maxRps"); /* json-c: inf */
    refused_on("{\"maxRps\":0}", NULL, false, "maxRps");
    /* NaN and infinities cannot be written in JSON; json-c's lenient parser and our own callers can still
     * hand them over as doubles. */
    json_object *o = body_with_name("x");
    json_object_object_add(o, "maxRps", json_object_new_double(NAN));
    refused_on(NULL, o, true, "maxRps");
    o = body_with_name("x");
    json_object_object_add(o, "maxRps", json_object_new_double(INFINITY));
    refused_on(NULL, o, true, "maxRps");
    json_object *lenient = json_tokener_parse("{\"name\":\"x\",\"maxRps\":NaN}");
    if (lenient) refused_on(NULL, lenient, true, "maxRps");
}

static void test_spec_burst_errors(void **state)
{
    (void)state;
    refused_on("{\"name\":\"x\",\"burst\":0}", NULL, true, "burst");
    refused_on("{\"name\":\"x\",\"burst\":-3}", NULL, true, "burst");
    refused_on("{\"name\":\"x\",\"burst\":1.5}", NULL, true, "burst");
    refused_on("{\"name\":\"x\",\"burst\":\"3\"}", NULL, true, "burst");
    refused_on("{\"name\":\"x\",\"burst\":2e6}", NULL, true, "burst");
    refused_on("{\"name\":\"x\",\"burst\":2000000}", NULL, true, "burst");
    refused_on("{\"name\":\"x\",\"burst\":99999999999999999999}", NULL, true, "burst");
    refused_on("{\"burst\":false}", NULL, false, "burst");
}

static void test_spec_expires_errors(void **state)
{
    (void)state;
    refused_on("{\"name\":\"x\",\"expiresAt\":\"2020-01-01T00:00:00Z\"}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":\"2027-01-15T08:00:00Z\"}", NULL, true,
               "expiresAt"); /* = now */
    refused_on("{\"name\":\"x\",\"expiresAt\":\"tomorrow\"}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":\"2030-13-01T00:00:00Z\"}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":\"2030-01-01T00:00:00\"}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":\"\"}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":1900000000000}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":{}}", NULL, true, "expiresAt");
    refused_on("{\"expiresAt\":\"2001-01-01\"}", NULL, false, "expiresAt");
}

/* Regression (found by fuzz_token_spec): the Unix epoch itself parsed to 0 ms, which is the in-memory
 * encoding of "no expiry", so a past expiresAt was accepted and the token never expired. */
static void test_spec_expires_epoch_is_past(void **state)
{
    (void)state;
    refused_on("{\"name\":\"x\",\"expiresAt\":\"1970-01-01T00:00:00Z\"}", NULL, true, "expiresAt");
    refused_on("{\"name\":\"x\",\"expiresAt\":\"1970-01-01T01:00:00+01:00\"}", NULL, true, "expiresAt");
    refused_on("{\"expiresAt\":\"1970-01-01\"}", NULL, false, "expiresAt");
}

/* Regression (found by fuzz_token_spec): a JSON name with an escaped NUL ("a\u0000b") was cut at the NUL
 * and stored as "a" instead of being refused as a control character. */
static void test_spec_name_with_nul_refused(void **state)
{
    (void)state;
    refused_on("{\"name\":\"a\\u0000b\"}", NULL, true, "name");
    refused_on("{\"name\":\"\\u0000\"}", NULL, false, "name");
}

/* Regression (found by fuzz_token_spec's strict UTF-8 oracle): check_name only checked lead and
 * continuation bits, so overlong 3/4-byte forms, UTF-16 surrogates and code points above U+10FFFF were
 * accepted as "valid UTF-8" names. */
static void test_spec_name_strict_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "x\xe0\x80\xaf",     /* overlong '/' in 3 bytes */
        "x\xf0\x8b\xb4\xb4", /* overlong in 4 bytes (the fuzzer's input) */
        "x\xed\xa0\x80",     /* U+D800, a surrogate */
        "x\xed\xbf\xbf",     /* U+DFFF */
        "x\xf4\x90\x80\x80", /* U+110000 */
        "x\xf5\x80\x80\x80", /* lead byte beyond U+10FFFF */
        "x\xf7\xbf\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_token_spec_t spec;
        ig_error_t err;
        assert_int_equal(spec_parse(NULL, body_with_name(bad[i]), true, &spec, &err), -1);
        assert_int_equal(ig_error_status(&err), 400);
        assert_contains(err.message, "name: is not valid UTF-8");
    }
    static const char *const good[] = {
        "\xe0\xa0\x80",     /* U+0800, the first 3-byte code point */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above */
        "\xef\xbf\xbd",     /* U+FFFD */
        "\xf0\x90\x80\x80", /* U+10000 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xc2\xa0nbsp",     /* U+00A0: printable, not C1 */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ig_token_spec_t spec;
        ig_error_t err;
        if (spec_parse(NULL, body_with_name(good[i]), true, &spec, &err))
            fail_msg("valid name %zu refused: %s", i, err.message);
    }
}

static void test_spec_shape_errors(void **state)
{
    (void)state;
    ig_token_spec_t spec;
    ig_error_t err;
    static const char *const not_objects[] = {"[1]", "\"x\"", "5", "true", "null"};
    for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
        assert_int_equal(spec_parse(not_objects[i], NULL, true, &spec, &err), -1);
        assert_int_equal(ig_error_status(&err), 400);
        assert_contains(err.message, "JSON object");
    }
    assert_int_equal(spec_parse("{\"name\":\"x\",\"color\":\"red\"}", NULL, true, &spec, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    assert_contains(err.message, "color");
    assert_int_equal(spec_parse("{\"Name\":\"x\"}", NULL, false, &spec, &err), -1); /* case matters */
    assert_contains(err.message, "Name");
}

static void test_spec_accepted(void **state)
{
    (void)state;
    ig_token_spec_t spec;
    ig_error_t err;
    assert_int_equal(spec_parse("{\"name\":\"ci\",\"maxRps\":0.5,\"burst\":null,\"expiresAt\":null}", NULL,
                                true, &spec, &err),
                     0);
    assert_true(spec.has_name && spec.has_max_rps && spec.has_burst && spec.has_expires);
    assert_string_equal(spec.name, "ci");
    assert_true(spec.max_rps == 0.5);
    assert_int_equal(spec.burst, 0);
    assert_int_equal(spec.expires_at_ms, 0);

    assert_int_equal(spec_parse("{\"name\":\"a b\",\"maxRps\":1000000,\"burst\":1000000,"
                                "\"expiresAt\":\"2027-01-31T00:00:00+01:00\"}",
                                NULL, true, &spec, &err),
                     0);
    assert_true(spec.max_rps == 1e6);
    assert_int_equal(spec.burst, 1000000);
    int64_t want;
    assert_int_equal(ig_rfc3339_parse("2027-01-30T23:00:00Z", &want), 0);
    assert_int_equal(spec.expires_at_ms, want);

    /* PATCH: only what is present is marked. */
    assert_int_equal(spec_parse("{\"maxRps\":null}", NULL, false, &spec, &err), 0);
    assert_false(spec.has_name);
    assert_true(spec.has_max_rps);
    assert_false(spec.has_burst);
    assert_false(spec.has_expires);
    assert_int_equal(spec_parse("{}", NULL, false, &spec, &err), 0);
    assert_false(spec.has_name || spec.has_max_rps || spec.has_burst || spec.has_expires);
}

/* ------------------------------------------------------------------ lifecycle */

static void test_lifecycle(void **state)
{
    env_t *e = *state;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_row_t rec, out;
    ig_error_t err;
    ig_token_spec_t spec = named("ci");
    spec.has_max_rps = true;
    spec.max_rps = 1;
    spec.has_burst = true;
    spec.burst = 1;
    create_ok(e->ts, "alice", &spec, secret, &rec);
    assert_memory_equal(rec.id, "tok_", 4);
    assert_int_equal(strlen(rec.prefix), IG_TOKEN_DISPLAY_LEN);
    assert_memory_equal(rec.prefix, secret, IG_TOKEN_DISPLAY_LEN);
    assert_int_equal(ig_token_table_count(e->ts), 1);

    ig_token_table_read_begin();
    const ig_token_entry_t *m = find_secret(e->ts, secret);
    assert_non_null(m);
    assert_string_equal(m->id, rec.id);
    assert_string_equal(m->name, "ci");
    assert_string_equal(m->owner, "alice");
    assert_false(m->suspended);
    assert_true(m->limited);
    ig_token_runtime_t *cell_state = m->state;
    /* Spend the only request of the bucket on the real clock (a PATCH rescales the cell against it): the
     * cell now owes 1 s. */
    ig_gcra_result_t r;
    int64_t spent_at = ig_clock_mono_ns();
    ig_gcra_take(&m->state->cell, &m->params, spent_at, &r);
    assert_int_equal(r.allowed, 1);
    assert_int_equal(atomic_load(&m->state->cell.tat), spent_at + 1000000000LL);
    ig_token_table_read_end();

    /* An unknown secret (well formed) is not found. */
    char other[IG_TOKEN_LEN + 1];
    ig_token_generate(other);
    ig_token_table_read_begin();
    assert_null(find_secret(e->ts, other));
    ig_token_table_read_end();

    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, "leaked in CI log", &out, &err), 0);
    assert_true(out.suspended);
    assert_string_equal(out.suspend_reason, "leaked in CI log");
    assert_true(out.suspended_at_ms > 0);
    ig_token_table_read_begin();
    m = find_secret(e->ts, secret);
    assert_non_null(m);
    assert_true(m->suspended);
    assert_ptr_equal(m->state, cell_state);
    ig_token_table_read_end();

    assert_int_equal(ig_token_table_activate(e->ts, &test_admin, rec.id, &out, &err), 0);
    assert_false(out.suspended);
    assert_int_equal(out.suspended_at_ms, 0);
    assert_string_equal(out.suspend_reason, "");
    ig_token_table_read_begin();
    m = find_secret(e->ts, secret);
    assert_false(m->suspended);
    ig_token_table_read_end();

    /* PATCH maxRps: new parameters, same state; the bucket keeps its fullness (exhausted stays exhausted,
     * now owing one 0.5 s interval), so right away the faster policy still refuses, and 0.5 s later admits. */
    ig_token_spec_t patch;
    memset(&patch, 0, sizeof patch);
    patch.has_max_rps = true;
    patch.max_rps = 2;
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &patch, &out, &err), 0);
    assert_true(out.max_rps == 2);
    assert_int_equal(out.burst, 1);
    ig_token_table_read_begin();
    m = find_secret(e->ts, secret);
    assert_true(m->params.max_rps == 2);
    assert_int_equal(m->params.burst, 1);
    assert_int_equal(m->params.emission_ns, 500000000);
    assert_ptr_equal(m->state, cell_state);
    int64_t now = ig_clock_mono_ns(), tat = atomic_load(&m->state->cell.tat);
    assert_true(tat > now && tat <= now + 500000000LL);
    ig_gcra_take(&m->state->cell, &m->params, now, &r);
    assert_int_equal(r.allowed, 0);
    ig_gcra_take(&m->state->cell, &m->params, tat, &r);
    assert_int_equal(r.allowed, 1);
    ig_token_table_read_end();

    /* maxRps null: unlimited. */
    patch.max_rps = 0;
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &patch, &out, &err), 0);
    ig_token_table_read_begin();
    m = find_secret(e->ts, secret);
    assert_false(m->limited);
    assert_ptr_equal(m->state, cell_state);
    ig_token_table_read_end();

    patch = named("deploy");
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &patch, &out, &err), 0);
    assert_string_equal(out.name, "deploy");
    ig_token_table_read_begin();
    m = find_secret(e->ts, secret);
    assert_string_equal(m->name, "deploy");
    assert_string_equal(m->owner, "alice");
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_get(e->ts, rec.id, &out, &err), 0);
    assert_string_equal(out.name, "deploy");
    assert_memory_equal(out.hash, rec.hash, 32);

    /* An invalid PATCH changes nothing. */
    patch = named("");
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &patch, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    assert_int_equal(ig_token_table_get(e->ts, rec.id, &out, &err), 0);
    assert_string_equal(out.name, "deploy");

    assert_int_equal(ig_token_table_delete(e->ts, &test_admin, rec.id, &err), 0);
    ig_token_table_read_begin();
    assert_null(find_secret(e->ts, secret));
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_count(e->ts), 0);
    ig_token_table_reclaim(e->ts);

    /* Everything on a deleted id is a 404 naming the token. */
    assert_int_equal(ig_token_table_get(e->ts, rec.id, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_string_equal(ig_error_kind_type(err.kind), "NoSuchAccessTokenException");
    assert_contains(err.message, rec.id);
    assert_int_equal(ig_token_table_delete(e->ts, &test_admin, rec.id, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, NULL, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    assert_int_equal(ig_token_table_activate(e->ts, &test_admin, "tok_nope", &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
    patch = named("x");
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &patch, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 404);
}

static void test_suspend_reason_checked(void **state)
{
    env_t *e = *state;
    char secret[IG_TOKEN_LEN + 1], longr[IG_REASON_MAX + 2];
    ig_token_row_t rec, out;
    ig_error_t err;
    ig_token_spec_t spec = named("r");
    create_ok(e->ts, "alice", &spec, secret, &rec);
    memset(longr, 'x', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, longr, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    assert_contains(err.message, "reason");
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, "line\nbreak", &out, &err), -1);
    assert_contains(err.message, "reason");
    ig_token_table_read_begin();
    assert_false(find_secret(e->ts, secret)->suspended);
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, NULL, &out, &err), 0);
    assert_true(out.suspended);
    /* Suspending again keeps the first suspendedAt. */
    int64_t at = out.suspended_at_ms;
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, "again", &out, &err), 0);
    assert_int_equal(out.suspended_at_ms, at);
}

typedef struct {
    int n;
    char ids[16][IG_ID_MAX];
    char owners[16][IG_USER_MAX + 1];
} collect_t;

static int collect(void *ud, const ig_token_row_t *t)
{
    collect_t *c = ud;
    if (c->n < 16) {
        snprintf(c->ids[c->n], IG_ID_MAX, "%s", t->id);
        snprintf(c->owners[c->n], sizeof c->owners[0], "%s", t->owner);
    }
    c->n++;
    return 0;
}

static bool has_id(const collect_t *c, const char *id)
{
    for (int i = 0; i < c->n && i < 16; i++)
        if (strcmp(c->ids[i], id) == 0) return true;
    return false;
}

static void test_names_owners_and_listing(void **state)
{
    env_t *e = *state;
    char s1[IG_TOKEN_LEN + 1], s2[IG_TOKEN_LEN + 1], s3[IG_TOKEN_LEN + 1], s4[IG_TOKEN_LEN + 1];
    ig_token_row_t a1, a2, b1, b2, out;
    ig_error_t err;
    ig_token_spec_t spec = named("ci");
    create_ok(e->ts, "alice", &spec, s1, &a1);

    /* Same name, same owner: 409, and no token appears in memory or the store. */
    char dup[IG_TOKEN_LEN + 1];
    assert_int_equal(ig_token_table_create(e->ts, &test_admin, "alice", &spec, dup, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_string_equal(ig_error_kind_type(err.kind), "AlreadyExistsException");
    assert_contains(err.message, "name");
    assert_int_equal(dup[0], '\0'); /* the secret of a failed create is wiped */
    assert_int_equal(ig_token_table_count(e->ts), 1);

    /* Same name, another owner: fine. */
    create_ok(e->ts, "bob", &spec, s3, &b1);
    spec = named("deploy");
    create_ok(e->ts, "alice", &spec, s2, &a2);
    spec = named("etl");
    create_ok(e->ts, "bob", &spec, s4, &b2);
    assert_int_equal(ig_token_table_count(e->ts), 4);

    /* Renaming onto a taken name: 409, unchanged. */
    spec = named("ci");
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, a2.id, &spec, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 409);
    assert_int_equal(ig_token_table_get(e->ts, a2.id, &out, &err), 0);
    assert_string_equal(out.name, "deploy");

    collect_t c = {0};
    assert_int_equal(ig_token_table_list(e->ts, NULL, NULL, collect, &c, &err), 0);
    assert_int_equal(c.n, 4);
    memset(&c, 0, sizeof c);
    assert_int_equal(ig_token_table_list(e->ts, "bob", NULL, collect, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_true(has_id(&c, b1.id) && has_id(&c, b2.id));
    assert_string_equal(c.owners[0], "bob");
    assert_string_equal(c.owners[1], "bob");
    memset(&c, 0, sizeof c);
    assert_int_equal(ig_token_table_list(e->ts, "carol", NULL, collect, &c, &err), 0);
    assert_int_equal(c.n, 0);

    /* Status filter: suspend a2; expire b2 (written straight to the store, as time passing would). */
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, a2.id, NULL, &out, &err), 0);
    assert_int_equal(e->st->ops->token_get(e->st, b2.id, &out, &err), 0);
    out.expires_at_ms = 1000;
    assert_int_equal(e->st->ops->token_update(e->st, &out, NULL, &err), 0);
    memset(&c, 0, sizeof c);
    assert_int_equal(ig_token_table_list(e->ts, NULL, "suspended", collect, &c, &err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], a2.id);
    memset(&c, 0, sizeof c);
    assert_int_equal(ig_token_table_list(e->ts, NULL, "expired", collect, &c, &err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], b2.id);
    memset(&c, 0, sizeof c);
    assert_int_equal(ig_token_table_list(e->ts, NULL, "active", collect, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_true(has_id(&c, a1.id) && has_id(&c, b1.id));
    memset(&c, 0, sizeof c);
    assert_int_equal(ig_token_table_list(e->ts, "alice", "active", collect, &c, &err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], a1.id);
    assert_int_equal(ig_token_table_list(e->ts, NULL, "revoked", collect, &c, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    assert_contains(err.message, "status");

    assert_int_equal(ig_token_table_get(e->ts, b2.id, &out, &err), 0);
    assert_string_equal(ig_token_status(&out, ig_clock_wall_ms()), "expired");

    /* A deleted token's name is free again. */
    assert_int_equal(ig_token_table_delete(e->ts, &test_admin, a1.id, &err), 0);
    spec = named("ci");
    create_ok(e->ts, "alice", &spec, s1, &a1);
    ig_token_table_read_begin();
    assert_non_null(find_secret(e->ts, s1));
    ig_token_table_read_end();
}

/* ------------------------------------------------------------------ growth and tombstones */

#define GROW_N 1500 /* > 1024 * 0.7 twice over: several rebuilds from the initial 1024 slots */

static void test_growth_and_tombstones(void **state)
{
    env_t *e = *state;
    char(*secrets)[IG_TOKEN_LEN + 1] = calloc(GROW_N, sizeof *secrets);
    char(*ids)[IG_ID_MAX] = calloc(GROW_N, sizeof *ids);
    assert_non_null(secrets);
    assert_non_null(ids);
    ig_token_row_t rec;
    ig_error_t err;
    for (int i = 0; i < GROW_N; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        ig_token_spec_t spec = named(name);
        create_ok(e->ts, "grow", &spec, secrets[i], &rec);
        memcpy(ids[i], rec.id, IG_ID_MAX);
        if (i % 100 == 0) ig_token_table_reclaim(e->ts);
    }
    assert_int_equal(ig_token_table_count(e->ts), GROW_N);
    ig_token_table_read_begin();
    for (int i = 0; i < GROW_N; i++) {
        const ig_token_entry_t *m = find_secret(e->ts, secrets[i]);
        if (!m) fail_msg("token %d not found after growth", i);
        assert_string_equal(m->id, ids[i]);
    }
    ig_token_table_read_end();

    /* Delete every other: tombstones must not cut the probe chains of the survivors. */
    for (int i = 0; i < GROW_N; i += 2)
        assert_int_equal(ig_token_table_delete(e->ts, &test_admin, ids[i], &err), 0);
    ig_token_table_reclaim(e->ts);
    assert_int_equal(ig_token_table_count(e->ts), GROW_N / 2);
    ig_token_table_read_begin();
    for (int i = 0; i < GROW_N; i++) {
        const ig_token_entry_t *m = find_secret(e->ts, secrets[i]);
        if (i % 2 == 0 && m) fail_msg("deleted token %d still found", i);
        if (i % 2 == 1 && (!m || strcmp(m->id, ids[i]) != 0)) fail_msg("token %d lost among tombstones", i);
    }
    ig_token_table_read_end();

    /* Recreate the deleted half (new secrets, reusing tombstones and triggering rebuilds). */
    for (int i = 0; i < GROW_N; i += 2) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        ig_token_spec_t spec = named(name);
        create_ok(e->ts, "grow", &spec, secrets[i], &rec);
        memcpy(ids[i], rec.id, IG_ID_MAX);
    }
    ig_token_table_reclaim(e->ts);
    assert_int_equal(ig_token_table_count(e->ts), GROW_N);
    ig_token_table_read_begin();
    for (int i = 0; i < GROW_N; i++) {
        const ig_token_entry_t *m = find_secret(e->ts, secrets[i]);
        if (!m || strcmp(m->id, ids[i]) != 0) fail_msg("token %d not found after recreate", i);
    }
    ig_token_table_read_end();

    /* A fresh process loading the same store sees the same set. */
    ig_token_table_t *again = ig_token_table_new(e->st, true, true);
    assert_int_equal(ig_token_table_load(again, &err), 0);
    assert_int_equal(ig_token_table_count(again), GROW_N);
    ig_token_table_read_begin();
    for (int i = 0; i < GROW_N; i++)
        assert_non_null(find_secret(again, secrets[i]));
    ig_token_table_read_end();
    ig_token_table_free(again);
    free(secrets);
    free(ids);
}

/* Many delete/create cycles at a constant population: tombstones pile up and must be swept by rebuilds,
 * never filling the table (a full table would make a miss probe forever). */
static void test_tombstone_churn(void **state)
{
    env_t *e = *state;
    char secret[IG_TOKEN_LEN + 1], keep[IG_TOKEN_LEN + 1];
    ig_token_row_t rec, kept;
    ig_error_t err;
    ig_token_spec_t spec = named("keep");
    create_ok(e->ts, "churn", &spec, keep, &kept);
    for (int i = 0; i < 1200; i++) {
        spec = named("tmp");
        create_ok(e->ts, "churn", &spec, secret, &rec);
        assert_int_equal(ig_token_table_delete(e->ts, &test_admin, rec.id, &err), 0);
    }
    ig_token_table_reclaim(e->ts);
    assert_int_equal(ig_token_table_count(e->ts), 1);
    char unknown[IG_TOKEN_LEN + 1];
    ig_token_generate(unknown);
    ig_token_table_read_begin();
    assert_non_null(find_secret(e->ts, keep));
    assert_null(find_secret(e->ts, secret));
    assert_null(find_secret(e->ts, unknown));
    ig_token_table_read_end();
}

/* ------------------------------------------------------------------ another process */

typedef struct {
    ig_store_t *st;
    ig_token_table_t *ts;
} proc_t;

static proc_t open_proc(env_t *e, bool live)
{
    ig_error_t err;
    proc_t p;
    p.st = ig_store_sqlite_open(e->db, &err);
    assert_non_null(p.st);
    p.ts = ig_token_table_new(p.st, live, true);
    assert_non_null(p.ts);
    return p;
}

static void close_proc(proc_t *p)
{
    ig_token_table_free(p->ts);
    ig_store_close(p->st);
}

/* A store whose token_changes fails while fail_changes is set: the store busy or down at a poll. */
static const ig_store_ops_t *real_ops;
static bool fail_changes;

static int flaky_token_changes(ig_store_t *st, int64_t since, ig_token_cb cb, void *ud, int64_t *max,
                               ig_error_t *err)
{
    if (fail_changes) {
        ig_error_set(err, IG_E_UNAVAILABLE, "store busy (test)");
        return -1;
    }
    return real_ops->token_changes(st, since, cb, ud, max, err);
}

/* A change seen by changed() but not read (the read failed) is read at the next poll: changed() reports a
 * change once, so a sync that dropped it would leave the CLI's token unknown until some later write. */
static void test_sync_retries_failed_read(void **state)
{
    env_t *e = *state;
    proc_t srv = open_proc(e, true), cli = open_proc(e, false);
    static ig_store_ops_t flaky;
    real_ops = srv.st->ops;
    flaky = *real_ops;
    flaky.token_changes = flaky_token_changes;
    srv.st->ops = &flaky;
    ig_token_row_t rec;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_table_sync(srv.ts);

    ig_token_spec_t spec = named("while-busy");
    create_ok(cli.ts, "alice", &spec, secret, &rec);
    fail_changes = true;
    assert_int_equal(ig_token_table_sync(srv.ts), -1);
    fail_changes = false;
    assert_true(ig_token_table_sync(srv.ts) > 0); /* no new write since: only the retry can find it */
    ig_token_table_read_begin();
    assert_non_null(find_secret(srv.ts, secret));
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_sync(srv.ts), 0);

    srv.st->ops = real_ops;
    close_proc(&cli);
    close_proc(&srv);
}

static void test_sync_from_cli(void **state)
{
    env_t *e = *state;
    proc_t cli = open_proc(e, false); /* B: writes the store only */
    ig_token_table_t *A = e->ts;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];

    ig_token_table_sync(A);
    assert_int_equal(ig_token_table_sync(A), 0); /* nothing changed */

    ig_token_spec_t spec = named("from-cli");
    create_ok(cli.ts, "alice", &spec, secret, &rec);
    assert_int_equal(ig_token_table_count(cli.ts), 0); /* not live: no table */
    ig_token_table_read_begin();
    assert_null(find_secret(A, secret)); /* not yet: A has not polled */
    ig_token_table_read_end();
    assert_true(ig_token_table_sync(A) > 0);
    ig_token_table_read_begin();
    const ig_token_entry_t *m = find_secret(A, secret);
    assert_non_null(m);
    assert_string_equal(m->id, rec.id);
    assert_string_equal(m->name, "from-cli");
    ig_token_runtime_t *st0 = m->state;
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_sync(A), 0);

    assert_int_equal(ig_token_table_suspend(cli.ts, &test_admin, rec.id, "cli", &out, &err), 0);
    assert_true(ig_token_table_sync(A) > 0);
    ig_token_table_read_begin();
    m = find_secret(A, secret);
    assert_true(m->suspended);
    assert_ptr_equal(m->state, st0);
    ig_token_table_read_end();

    ig_token_spec_t patch;
    memset(&patch, 0, sizeof patch);
    patch.has_max_rps = true;
    patch.max_rps = 7.5;
    patch.has_burst = true;
    patch.burst = 3;
    assert_int_equal(ig_token_table_update(cli.ts, &test_admin, rec.id, &patch, &out, &err), 0);
    assert_int_equal(ig_token_table_activate(cli.ts, &test_admin, rec.id, &out, &err), 0);
    assert_true(ig_token_table_sync(A) > 0);
    ig_token_table_read_begin();
    m = find_secret(A, secret);
    assert_false(m->suspended);
    assert_true(m->limited);
    assert_true(m->params.max_rps == 7.5);
    assert_int_equal(m->params.burst, 3);
    assert_ptr_equal(m->state, st0);
    ig_token_table_read_end();

    assert_int_equal(ig_token_table_delete(cli.ts, &test_admin, rec.id, &err), 0);
    assert_true(ig_token_table_sync(A) > 0);
    ig_token_table_read_begin();
    assert_null(find_secret(A, secret));
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_count(A), 0);
    assert_int_equal(ig_token_table_sync(A), 0);

    /* A's own writes are visible at once, before any sync, and a later sync leaves them be. */
    spec = named("from-server");
    create_ok(A, "bob", &spec, secret, &rec);
    ig_token_table_read_begin();
    assert_non_null(find_secret(A, secret));
    ig_token_table_read_end();
    ig_token_table_sync(A);
    ig_token_table_read_begin();
    m = find_secret(A, secret);
    assert_non_null(m);
    assert_string_equal(m->name, "from-server");
    ig_token_table_read_end();
    ig_token_table_reclaim(A);
    close_proc(&cli);
}

/* Rotation (DESIGN.md §8): the new secret is the token, the old one an alias sharing its state until the grace
 * ends; a second rotation ends the first old secret; all of it seen the same way by a table that learns of the
 * rotation from the store (the CLI's process), and after a reload. */
static void expect_alias(ig_token_table_t *ts, const char *secret, const ig_token_runtime_t *state, bool works)
{
    const ig_token_entry_t *m = find_secret(ts, secret);
    if (!m) fail_msg("the old secret is unknown, it should say rotated");
    assert_true(m->alias);
    assert_ptr_equal(m->state, state);
    assert_true(m->rotated_at_ms > 0);
    if (works) assert_true(m->alias_until_ms > ig_clock_wall_ms());
    else assert_true(m->alias_until_ms <= ig_clock_wall_ms());
}

static void test_rotation(void **state)
{
    env_t *e = *state;
    proc_t cli = open_proc(e, false);
    ig_token_table_t *A = e->ts;
    ig_error_t err;
    ig_token_row_t rec, out;
    char s1[IG_TOKEN_LEN + 1], s2[IG_TOKEN_LEN + 1], s3[IG_TOKEN_LEN + 1], s4[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("rotating");
    spec.has_max_rps = true;
    spec.max_rps = 10;
    create_ok(A, "alice", &spec, s1, &rec);
    ig_token_table_read_begin();
    ig_token_runtime_t *st0 = find_secret(A, s1)->state;
    ig_token_table_read_end();

    /* Here: rotate with an hour's grace. */
    assert_int_equal(ig_token_table_rotate(A, &test_admin, rec.id, 3600 * 1000, s2, &out, &err), 0);
    assert_string_equal(out.id, rec.id);
    assert_true(out.has_prev);
    assert_memory_not_equal(out.hash, rec.hash, 32);
    assert_memory_equal(out.prev_hash, rec.hash, 32);
    ig_token_table_read_begin();
    const ig_token_entry_t *m = find_secret(A, s2);
    assert_non_null(m);
    assert_false(m->alias);
    assert_ptr_equal(m->state, st0); /* one limit cell and usage for both secrets */
    assert_true(m->limited);
    expect_alias(A, s1, st0, true);
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_count(A), 1); /* an old secret is not a token */

    /* The CLI's process rotates again with no grace: A learns it from the store (by id: s3 is new to it). */
    assert_int_equal(ig_token_table_rotate(cli.ts, &test_admin, rec.id, 0, s3, &out, &err), 0);
    assert_true(ig_token_table_sync(A) > 0);
    ig_token_table_read_begin();
    m = find_secret(A, s3);
    assert_non_null(m);
    assert_false(m->alias);
    assert_ptr_equal(m->state, st0);
    expect_alias(A, s2, st0, false); /* grace 0: refused at once */
    expect_alias(A, s1, st0, false); /* two rotations old: ended */
    ig_token_table_read_end();

    /* Suspend reaches the alias; a grace rotation, then a second one inside the grace ends the first old. */
    assert_int_equal(ig_token_table_rotate(A, &test_admin, rec.id, 600 * 1000, s4, &out, &err), 0);
    assert_int_equal(ig_token_table_suspend(cli.ts, &test_admin, rec.id, NULL, &out, &err), 0);
    assert_true(ig_token_table_sync(A) > 0);
    ig_token_table_read_begin();
    expect_alias(A, s3, st0, true);
    assert_true(find_secret(A, s3)->suspended);
    assert_true(find_secret(A, s4)->suspended);
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_count(A), 1);

    /* A fresh table (a restart) loads the current secret and the previous one. */
    proc_t again = open_proc(e, true);
    assert_int_equal(ig_token_table_load(again.ts, &err), 0);
    ig_token_table_read_begin();
    m = find_secret(again.ts, s4);
    assert_non_null(m);
    expect_alias(again.ts, s3, m->state, true);
    assert_null(find_secret(again.ts, s1)); /* older secrets are forgotten at a restart: unknown */
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_count(again.ts), 1);

    /* Delete ends both secrets. */
    assert_int_equal(ig_token_table_delete(A, &test_admin, rec.id, &err), 0);
    ig_token_table_read_begin();
    assert_null(find_secret(A, s4));
    assert_null(find_secret(A, s3));
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_count(A), 0);

    /* Out of range grace: 400, nothing written. */
    assert_int_equal(ig_token_table_rotate(A, &test_admin, rec.id, -1, s1, &out, &err), -1);
    assert_int_equal(ig_error_status(&err), 400);
    ig_token_table_reclaim(A);
    close_proc(&again);
    close_proc(&cli);
}

/* A store wrapper whose change feed replays a canned record: lets a test hand the table an old version. */
typedef struct {
    ig_store_t base;
    ig_store_t *real;
    ig_store_ops_t ops;
    ig_token_row_t replay;
} replay_store_t;

static replay_store_t *replay_of(ig_store_t *base)
{
    return (replay_store_t *)(void *)base;
}

static int replay_changed(ig_store_t *st)
{
    (void)st;
    return 1;
}

static int replay_changes(ig_store_t *st, int64_t since, ig_token_cb cb, void *ud, int64_t *max_seq,
                          ig_error_t *err)
{
    (void)err;
    replay_store_t *r = replay_of(st);
    *max_seq = since > r->replay.seq ? since : r->replay.seq;
    cb(ud, &r->replay);
    return 0;
}

static void test_stale_record_never_wins(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t v1, v2, v3;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("stale");
    create_ok(e->ts, "alice", &spec, secret, &v1);
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, v1.id, "v2", &v2, &err), 0);
    spec = named("stale-renamed");
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, v1.id, &spec, &v3, &err), 0);
    assert_true(v1.seq < v2.seq && v2.seq < v3.seq);

    replay_store_t rs;
    memset(&rs, 0, sizeof rs);
    rs.real = e->st;
    memset(&rs.ops, 0, sizeof rs.ops); /* load and sync call only these two */
    rs.ops.changed = replay_changed;
    rs.ops.token_changes = replay_changes;
    rs.base.ops = &rs.ops;
    ig_token_table_t *ts = ig_token_table_new(&rs.base, true, true);
    rs.replay = v1;
    assert_int_equal(ig_token_table_load(ts, &err), 0); /* loads v1 from the replay */

    /* A newer version replaces, an older one (or the same one again) does not. */
    rs.replay = v3;
    ig_token_table_sync(ts);
    rs.replay = v2;
    ig_token_table_sync(ts);
    ig_token_table_read_begin();
    const ig_token_entry_t *m = find_secret(ts, secret);
    assert_non_null(m);
    assert_int_equal(m->seq, v3.seq);
    assert_string_equal(m->name, "stale-renamed");
    assert_true(m->suspended);
    ig_token_table_read_end();
    rs.replay = v1;
    ig_token_table_sync(ts);
    /* Nor does an old tombstone delete a newer version. */
    rs.replay = v2;
    rs.replay.deleted = true;
    ig_token_table_sync(ts);
    ig_token_table_read_begin();
    m = find_secret(ts, secret);
    assert_non_null(m);
    assert_int_equal(m->seq, v3.seq);
    ig_token_table_read_end();
    /* A newer tombstone does. */
    rs.replay = v3;
    rs.replay.seq = v3.seq + 1;
    rs.replay.deleted = true;
    ig_token_table_sync(ts);
    ig_token_table_read_begin();
    assert_null(find_secret(ts, secret));
    ig_token_table_read_end();
    /* Regression: after a deletion, a live copy of the row read before it (a sync racing the delete) must
     * not bring the token back.  The tombstone remembers the deletion's seq. */
    rs.replay = v3;
    ig_token_table_sync(ts);
    rs.replay = v2;
    rs.replay.suspended = false;
    ig_token_table_sync(ts);
    ig_token_table_read_begin();
    assert_null(find_secret(ts, secret));
    ig_token_table_read_end();
    ig_token_table_free(ts);
}

static void *read_once(void *arg)
{
    ig_token_table_t *ts = arg;
    uint8_t h[32] = {0};
    ig_token_table_read_begin();
    (void)ig_token_table_find(ts, h);
    ig_token_table_read_end();
    return NULL;
}

/* Reader slots are returned when a thread exits: more threads than slots over a process's life is fine
 * (the server's pool is fixed, but tests and embedders create threads freely). */
static void test_reader_slots_are_reused(void **state)
{
    env_t *e = *state;
    for (int i = 0; i < 1200; i++) { /* > 2 x the 512 slots */
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, read_once, e->ts), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
    ig_token_table_reclaim(e->ts); /* scans every slot: none is stuck in a read section */
}

static int silent_changed(ig_store_t *st)
{
    (void)st;
    return -1;
}

/* A store that does not answer the poll: sync says so (the server's /readyz turns 503 on it) and changes
 * nothing. */
static void test_sync_reports_a_silent_store(void **state)
{
    (void)state;
    ig_store_t base;
    ig_store_ops_t ops;
    memset(&ops, 0, sizeof ops);
    ops.changed = silent_changed;
    base.ops = &ops;
    ig_token_table_t *ts = ig_token_table_new(&base, true, true);
    assert_int_equal(ig_token_table_sync(ts), -1);
    assert_int_equal(ig_token_table_count(ts), 0);
    ig_token_table_free(ts);
}

/* Regression: PATCH, suspend and activate are read-modify-write of the whole row.  A suspend committed by
 * another writer (the CLI, another admin request) between this writer's read and its write was silently
 * undone: the write put back suspended=false from its stale read.  The wrapper store below commits such a
 * suspend from a second token table right after the first token_get. */
typedef struct {
    ig_store_t base;
    ig_store_ops_t ops;
    ig_store_t *real;
    ig_token_table_t *other; /* a second writer on the real store */
    const char *id;
    int gets;
} interleave_store_t;

static int interleave_get(ig_store_t *st, const char *id, ig_token_row_t *out, ig_error_t *err)
{
    interleave_store_t *s = (interleave_store_t *)(void *)st;
    int rc = s->real->ops->token_get(s->real, id, out, err);
    if (s->gets++ == 0) {
        ig_token_row_t tmp;
        ig_error_t e2;
        if (ig_token_table_suspend(s->other, &test_admin, s->id, "concurrent", &tmp, &e2)) fail_msg("%s", e2.message);
    }
    return rc;
}

static int interleave_update(ig_store_t *st, ig_token_row_t *t, const ig_journal_t *j, ig_error_t *err)
{
    interleave_store_t *s = (interleave_store_t *)(void *)st;
    return s->real->ops->token_update(s->real, t, j, err);
}

static void test_concurrent_suspend_not_lost(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("raced");
    create_ok(e->ts, "alice", &spec, secret, &rec);

    interleave_store_t s;
    memset(&s, 0, sizeof s);
    s.real = e->st;
    memset(&s.ops, 0, sizeof s.ops); /* only what modify() calls; anything else would crash loudly */
    s.ops.token_get = interleave_get;
    s.ops.token_update = interleave_update;
    s.base.ops = &s.ops;
    s.other = ig_token_table_new(e->st, false, true);
    s.id = rec.id;
    ig_token_table_t *ts = ig_token_table_new(&s.base, false, true);

    spec = named("raced-renamed");
    assert_int_equal(ig_token_table_update(ts, &test_admin, rec.id, &spec, &out, &err), 0);
    assert_string_equal(out.name, "raced-renamed");
    assert_true(out.suspended); /* the result reflects both writes */
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    assert_string_equal(out.name, "raced-renamed");
    assert_true(out.suspended);
    assert_string_equal(out.suspend_reason, "concurrent");
    ig_token_table_free(ts);
    ig_token_table_free(s.other);
}

/* ------------------------------------------------------------------ what a member may lift */

/* Hardening item 12: a member could activate a token an admin suspended, and remove or raise a Max RPS an
 * admin set.  Now a suspension records its principal and a limit its setter's role, and a member may lift
 * only a member's. */
static const ig_principal_t test_member = {.ok = true, .role = IG_ROLE_MEMBER, .user = "mel"};

#define assert_forbidden(call, err, needle)                                                                  \
    do {                                                                                                     \
        memset(&(err), 0, sizeof(err));                                                                      \
        assert_int_equal((call), -1);                                                                        \
        assert_int_equal((err).kind, IG_E_FORBIDDEN);                                                        \
        assert_int_equal(ig_error_status(&(err)), 403);                                                      \
        assert_contains((err).message, needle);                                                              \
    } while (0)

/* The in-memory entry (what authentication reads) agrees with the row. */
static void assert_entry_suspended(ig_token_table_t *ts, const char *secret, bool suspended, ig_set_by_t by)
{
    ig_token_table_read_begin();
    const ig_token_entry_t *m = find_secret(ts, secret);
    assert_non_null(m);
    assert_int_equal(m->suspended, suspended);
    assert_int_equal(m->suspended_by, by);
    ig_token_table_read_end();
}

static void test_member_cannot_lift_admin_suspension(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("mel-key");
    create_ok(e->ts, "mel", &spec, secret, &rec);

    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, "incident 42", &out, &err), 0);
    assert_int_equal(out.suspended_by_role, IG_SET_BY_ADMIN);
    assert_string_equal(out.suspended_by, "root");
    assert_entry_suspended(e->ts, secret, true, IG_SET_BY_ADMIN);

    assert_forbidden(ig_token_table_activate(e->ts, &test_member, rec.id, &out, &err), err,
                     "suspended by an admin: only an admin can activate it");
    /* Suspending it again would make the member its suspender: refused too. */
    assert_forbidden(ig_token_table_suspend(e->ts, &test_member, rec.id, "mine now", &out, &err), err,
                     "only an admin can change its suspension");
    /* Nothing was written. */
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    assert_true(out.suspended);
    assert_string_equal(out.suspend_reason, "incident 42");
    assert_int_equal(out.suspended_by_role, IG_SET_BY_ADMIN);
    assert_string_equal(out.suspended_by, "root");
    assert_entry_suspended(e->ts, secret, true, IG_SET_BY_ADMIN);

    /* The member may still rename it; the admin may activate it. */
    spec = named("mel-key-2");
    assert_int_equal(ig_token_table_update(e->ts, &test_member, rec.id, &spec, &out, &err), 0);
    assert_true(out.suspended);
    assert_int_equal(ig_token_table_activate(e->ts, &test_admin, rec.id, &out, &err), 0);
    assert_false(out.suspended);
    assert_int_equal(out.suspended_by_role, IG_SET_BY_UNKNOWN);
    assert_string_equal(out.suspended_by, "");
    assert_entry_suspended(e->ts, secret, false, IG_SET_BY_UNKNOWN);
    /* Activating an active token lifts nothing: a member may. */
    assert_int_equal(ig_token_table_activate(e->ts, &test_member, rec.id, &out, &err), 0);
}

static void test_member_lifts_member_suspension(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("mel-own");
    create_ok(e->ts, "mel", &spec, secret, &rec);

    assert_int_equal(ig_token_table_suspend(e->ts, &test_member, rec.id, "pausing", &out, &err), 0);
    assert_int_equal(out.suspended_by_role, IG_SET_BY_MEMBER);
    assert_string_equal(out.suspended_by, "mel");
    assert_entry_suspended(e->ts, secret, true, IG_SET_BY_MEMBER);
    assert_int_equal(ig_token_table_activate(e->ts, &test_member, rec.id, &out, &err), 0);
    assert_false(out.suspended);

    /* An admin suspending a member-suspended token takes the suspension over. */
    assert_int_equal(ig_token_table_suspend(e->ts, &test_member, rec.id, "pausing", &out, &err), 0);
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, "taken over", &out, &err), 0);
    assert_int_equal(out.suspended_by_role, IG_SET_BY_ADMIN);
    assert_string_equal(out.suspended_by, "root");
    assert_forbidden(ig_token_table_activate(e->ts, &test_member, rec.id, &out, &err), err, "by an admin");
}

static ig_token_spec_t limit_spec(double max_rps, bool has_burst, int burst)
{
    ig_token_spec_t s;
    memset(&s, 0, sizeof s);
    s.has_max_rps = true;
    s.max_rps = max_rps;
    s.has_burst = has_burst;
    s.burst = burst;
    return s;
}

static void test_member_cannot_move_admin_limit(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("capped");
    spec.has_max_rps = true;
    spec.max_rps = 5;
    create_ok(e->ts, "mel", &spec, secret, &rec); /* by test_admin */
    assert_int_equal(rec.max_rps_set_by, IG_SET_BY_ADMIN);

    static const char why[] = "was set by an admin: only an admin can change or remove it";
    ig_token_spec_t remove = limit_spec(0, false, 0), raise = limit_spec(500, false, 0);
    ig_token_spec_t burst = limit_spec(5, true, 1000);
    burst.has_max_rps = false;
    assert_forbidden(ig_token_table_update(e->ts, &test_member, rec.id, &remove, &out, &err), err, why);
    assert_forbidden(ig_token_table_update(e->ts, &test_member, rec.id, &raise, &out, &err), err, why);
    assert_forbidden(ig_token_table_update(e->ts, &test_member, rec.id, &burst, &out, &err), err, why);
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    assert_true(out.max_rps == 5);
    assert_int_equal(out.burst, 0);
    ig_token_table_read_begin();
    const ig_token_entry_t *m = find_secret(e->ts, secret);
    assert_true(m->limited);
    assert_int_equal(m->max_rps_set_by, IG_SET_BY_ADMIN);
    ig_token_table_read_end();

    /* Repeating the limit (a console form that sends every field) moves nothing: allowed, setter kept. */
    ig_token_spec_t same = limit_spec(5, false, 0);
    same.has_name = true;
    snprintf(same.name, sizeof same.name, "capped-renamed");
    assert_int_equal(ig_token_table_update(e->ts, &test_member, rec.id, &same, &out, &err), 0);
    assert_string_equal(out.name, "capped-renamed");
    assert_int_equal(out.max_rps_set_by, IG_SET_BY_ADMIN);

    /* The admin may move it; removing it leaves nothing to lock, and the member's own limit is theirs. */
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &raise, &out, &err), 0);
    assert_int_equal(out.max_rps_set_by, IG_SET_BY_ADMIN);
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &remove, &out, &err), 0);
    assert_int_equal(out.max_rps_set_by, IG_SET_BY_UNKNOWN);
    ig_token_spec_t mine = limit_spec(2, false, 0);
    assert_int_equal(ig_token_table_update(e->ts, &test_member, rec.id, &mine, &out, &err), 0);
    assert_int_equal(out.max_rps_set_by, IG_SET_BY_MEMBER);
    assert_int_equal(ig_token_table_update(e->ts, &test_member, rec.id, &raise, &out, &err), 0);
    assert_true(out.max_rps == 500);
    assert_int_equal(ig_token_table_update(e->ts, &test_member, rec.id, &remove, &out, &err), 0);

    /* A member creating a limited token sets it as a member. */
    ig_token_spec_t own = named("own-cap");
    own.has_max_rps = true;
    own.max_rps = 3;
    assert_int_equal(ig_token_table_create(e->ts, &test_member, "mel", &own, secret, &out, &err), 0);
    assert_int_equal(out.max_rps_set_by, IG_SET_BY_MEMBER);
    assert_int_equal(ig_token_table_update(e->ts, &test_member, out.id, &remove, &out, &err), 0);
}

/* Rows from before migration 5 have no recorded setter: only an admin lifts them. */
static void test_unrecorded_setter_needs_admin(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("legacy");
    create_ok(e->ts, "mel", &spec, secret, &rec);
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    out.suspended = true;
    out.max_rps = 4;
    out.suspended_by_role = IG_SET_BY_UNKNOWN;
    out.max_rps_set_by = IG_SET_BY_UNKNOWN;
    assert_int_equal(e->st->ops->token_update(e->st, &out, NULL, &err), 0);
    ig_token_spec_t remove = limit_spec(0, false, 0);
    assert_forbidden(ig_token_table_activate(e->ts, &test_member, rec.id, &out, &err), err,
                     "before icegate recorded by whom: only an admin can activate it");
    assert_forbidden(ig_token_table_update(e->ts, &test_member, rec.id, &remove, &out, &err), err,
                     "only an admin can change or remove it");
    assert_int_equal(ig_token_table_activate(e->ts, &test_admin, rec.id, &out, &err), 0);
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &remove, &out, &err), 0);
}

/* The check is made on the row the write is a compare-and-set on: a member activating their own suspension
 * while an admin suspends it again (between the member's read and write) is refused on the re-read, never
 * lifting the admin's suspension.  The interleave store commits the admin's suspend after the first read. */
static void test_lift_check_is_atomic_with_the_write(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("raced-lift");
    create_ok(e->ts, "mel", &spec, secret, &rec);
    assert_int_equal(ig_token_table_suspend(e->ts, &test_member, rec.id, "mine", &out, &err), 0);

    interleave_store_t s;
    memset(&s, 0, sizeof s);
    s.real = e->st;
    s.ops.token_get = interleave_get;
    s.ops.token_update = interleave_update;
    s.base.ops = &s.ops;
    s.other = ig_token_table_new(e->st, false, true);
    s.id = rec.id;
    ig_token_table_t *ts = ig_token_table_new(&s.base, false, true);
    assert_forbidden(ig_token_table_activate(ts, &test_member, rec.id, &out, &err), err,
                     "suspended by an admin: only an admin can activate it");
    assert_int_equal(s.gets, 2); /* the first write was stale: read again, and the check saw the admin */
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    assert_true(out.suspended);
    assert_string_equal(out.suspend_reason, "concurrent");
    assert_int_equal(out.suspended_by_role, IG_SET_BY_ADMIN);
    ig_token_table_free(ts);
    ig_token_table_free(s.other);
}

/* ------------------------------------------------------------------ reclamation */

typedef struct {
    ig_token_table_t *ts;
    uint8_t hash[32];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage; /* 0 start, 1 reader holds, 2 writer replaced, 3 reader checked and left */
    const ig_token_entry_t *held;
    char id_seen[IG_ID_MAX];
    char name_seen[64];
    bool suspended_seen;
} hold_t;

static void hold_wait(hold_t *h, int stage)
{
    pthread_mutex_lock(&h->mu);
    while (h->stage < stage)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void hold_set(hold_t *h, int stage)
{
    pthread_mutex_lock(&h->mu);
    h->stage = stage;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void *holder(void *arg)
{
    hold_t *h = arg;
    ig_token_table_read_begin();
    h->held = ig_token_table_find(h->ts, h->hash);
    hold_set(h, 1);
    hold_wait(h, 2);
    /* The writer has replaced the record and reclaimed: it must still be intact for us. */
    if (h->held) {
        snprintf(h->id_seen, sizeof h->id_seen, "%s", h->held->id);
        snprintf(h->name_seen, sizeof h->name_seen, "%s", h->held->name);
        h->suspended_seen = h->held->suspended;
    }
    ig_token_table_read_end();
    hold_set(h, 3);
    return NULL;
}

static bool freed(const void *p)
{
#ifdef HAVE_ASAN
    return __asan_address_is_poisoned(p) != 0;
#else
    (void)p;
    return false;
#endif
}

static void test_reader_keeps_record_alive(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("held");
    create_ok(e->ts, "alice", &spec, secret, &rec);
    ig_token_table_reclaim(e->ts);

    hold_t h;
    memset(&h, 0, sizeof h);
    h.ts = e->ts;
    hash_of(secret, h.hash);
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, holder, &h), 0);
    hold_wait(&h, 1);
    assert_non_null(h.held);
    const ig_token_entry_t *old = h.held;

    /* Replace the record (suspend and rename), then try hard to free it. */
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, NULL, &out, &err), 0);
    spec = named("held-renamed");
    assert_int_equal(ig_token_table_update(e->ts, &test_admin, rec.id, &spec, &out, &err), 0);
    ig_token_table_reclaim(e->ts);
    ig_token_table_reclaim(e->ts);
    ig_token_table_read_begin();
    const ig_token_entry_t *now = find_secret(e->ts, secret);
    assert_true(now != old);
    assert_true(now->suspended);
    ig_token_table_read_end();
    assert_false(freed(old));

    hold_set(&h, 2);
    hold_wait(&h, 3);
    pthread_join(t, NULL);
    assert_string_equal(h.id_seen, rec.id);
    assert_string_equal(h.name_seen, "held"); /* the version it looked up, not a later one */
    assert_false(h.suspended_seen);

    /* The reader is gone: now the old version goes. */
    ig_token_table_reclaim(e->ts);
#ifdef HAVE_ASAN
    assert_true(freed(old));
#endif
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
}

/* Readers looking tokens up while the table is rebuilt (growth past 70 % of 1024 slots) and the old table
 * is reclaimed: every lookup of an existing token succeeds, and (under ASan) no reader touches a freed
 * table. */
typedef struct {
    ig_token_table_t *ts;
    uint8_t hash[4][32];
    atomic_bool done;
    atomic_long lookups, missing;
} looper_t;

static void *looper(void *arg)
{
    looper_t *l = arg;
    long n = 0;
    while (!atomic_load(&l->done) || n < 100) {
        ig_token_table_read_begin();
        for (int i = 0; i < 4; i++, n++)
            if (!ig_token_table_find(l->ts, l->hash[i])) atomic_fetch_add(&l->missing, 1);
        ig_token_table_read_end();
    }
    atomic_fetch_add(&l->lookups, n);
    return NULL;
}

static void test_readers_across_rebuilds(void **state)
{
    env_t *e = *state;
    looper_t *l = calloc(1, sizeof *l);
    l->ts = e->ts;
    for (int i = 0; i < 4; i++) {
        char name[16], secret[IG_TOKEN_LEN + 1];
        ig_token_row_t rec;
        snprintf(name, sizeof name, "old%d", i);
        ig_token_spec_t spec = named(name);
        create_ok(e->ts, "alice", &spec, secret, &rec);
        hash_of(secret, l->hash[i]);
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, looper, l), 0);
    /* 1500 more tokens: rebuilds to 2048 and then 4096 slots while the readers run. */
    for (int i = 0; i < 1500; i++) {
        char name[32], s[IG_TOKEN_LEN + 1];
        ig_token_row_t r;
        snprintf(name, sizeof name, "n%d", i);
        ig_token_spec_t spec = named(name);
        create_ok(e->ts, "alice", &spec, s, &r);
        if (i % 16 == 0) ig_token_table_reclaim(e->ts);
    }
    atomic_store(&l->done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ig_token_table_reclaim(e->ts);
    assert_int_equal(atomic_load(&l->missing), 0);
    assert_true(atomic_load(&l->lookups) >= 200);
    assert_int_equal(ig_token_table_count(e->ts), 1504);
    free(l);
}

/* ------------------------------------------------------------------ stress */

#define STRESS_TOKENS 8
#define STRESS_READERS 3
#define STRESS_WRITES 2000

typedef struct {
    ig_token_table_t *ts;
    uint8_t hash[STRESS_TOKENS][32];
    char id[STRESS_TOKENS][IG_ID_MAX];
    atomic_bool done;
    atomic_long lookups, missing, inconsistent;
} stress_t;

static void *stress_reader(void *arg)
{
    stress_t *s = arg;
    long n = 0;
    while (!atomic_load(&s->done) || n < 1000) {
        ig_token_table_read_begin();
        for (int i = 0; i < STRESS_TOKENS; i++) {
            const ig_token_entry_t *m = ig_token_table_find(s->ts, s->hash[i]);
            n++;
            if (!m) {
                atomic_fetch_add(&s->missing, 1);
                continue;
            }
            /* Every version the writer publishes is self-consistent: name "s<i>-r<rate>", burst = 2 x rate.
             */
            char want[16];
            snprintf(want, sizeof want, "s%d-", i);
            bool ok = memcmp(m->hash, s->hash[i], 32) == 0 && strcmp(m->id, s->id[i]) == 0 &&
                      strncmp(m->name, want, strlen(want)) == 0 && strcmp(m->owner, "stress") == 0 &&
                      m->state != NULL;
            if (ok && m->limited) {
                int rate = (int)strtol(strstr(m->name, "-r") + 2, NULL, 10);
                ok = m->params.max_rps == rate && m->params.burst == 2 * rate;
                ig_gcra_result_t r;
                ig_gcra_take(&m->state->cell, &m->params, ig_clock_mono_ns(), &r);
            }
            if (ok) ig_token_runtime_note(m->state, ig_clock_wall_ms(), NULL, false);
            if (!ok) atomic_fetch_add(&s->inconsistent, 1);
        }
        ig_token_table_read_end();
    }
    atomic_fetch_add(&s->lookups, n);
    return NULL;
}

static void test_concurrent_readers_and_writer(void **state)
{
    env_t *e = *state;
    stress_t *s = calloc(1, sizeof *s);
    s->ts = e->ts;
    ig_error_t err;
    for (int i = 0; i < STRESS_TOKENS; i++) {
        char name[32], secret[IG_TOKEN_LEN + 1];
        ig_token_row_t rec;
        snprintf(name, sizeof name, "s%d-r1", i);
        ig_token_spec_t spec = named(name);
        spec.has_max_rps = true;
        spec.max_rps = 1;
        spec.has_burst = true;
        spec.burst = 2;
        create_ok(e->ts, "stress", &spec, secret, &rec);
        hash_of(secret, s->hash[i]);
        memcpy(s->id[i], rec.id, IG_ID_MAX);
    }
    pthread_t rd[STRESS_READERS];
    for (int i = 0; i < STRESS_READERS; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, stress_reader, s), 0);

    ig_token_row_t out;
    for (int w = 0; w < STRESS_WRITES; w++) {
        int i = w % STRESS_TOKENS, rate = 1 + w % 50;
        int rc;
        switch (w / STRESS_TOKENS % 3) {
        case 0:
            rc = ig_token_table_suspend(e->ts, &test_admin, s->id[i], "stress", &out, &err);
            break;
        case 1:
            rc = ig_token_table_activate(e->ts, &test_admin, s->id[i], &out, &err);
            break;
        default: {
            char name[32];
            snprintf(name, sizeof name, "s%d-r%d", i, rate);
            ig_token_spec_t spec = named(name);
            spec.has_max_rps = true;
            spec.max_rps = rate;
            spec.has_burst = true;
            spec.burst = 2 * rate;
            rc = ig_token_table_update(e->ts, &test_admin, s->id[i], &spec, &out, &err);
        }
        }
        if (rc) fail_msg("write %d: %s", w, err.message);
        if (w % 4 == 0) ig_token_table_reclaim(e->ts);
    }
    atomic_store(&s->done, true);
    for (int i = 0; i < STRESS_READERS; i++)
        pthread_join(rd[i], NULL);
    ig_token_table_reclaim(e->ts);
    assert_int_equal(atomic_load(&s->missing), 0);
    assert_int_equal(atomic_load(&s->inconsistent), 0);
    assert_true(atomic_load(&s->lookups) >= STRESS_READERS * 1000);
    assert_int_equal(ig_token_table_count(e->ts), STRESS_TOKENS);
    free(s);
}

/* ------------------------------------------------------------------ usage counters */

static int64_t arr_at(json_object *o, const char *key, size_t i)
{
    json_object *a;
    assert_true(json_object_object_get_ex(o, key, &a));
    assert_true(i < json_object_array_length(a));
    return json_object_get_int64(json_object_array_get_idx(a, i));
}

static int64_t field_i64(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_int64(v);
}

static void test_note_and_stats(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("metered");
    create_ok(e->ts, "alice", &spec, secret, &rec);

    const int64_t T = NOW_MS / 1000; /* a whole second */
    static const unsigned char v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    ig_token_table_read_begin();
    ig_token_runtime_t *st = find_secret(e->ts, secret)->state;
    /* T-300 shares T's ring slot and must not leak into it. */
    ig_token_runtime_note(st, (T - 300) * 1000 + 5, NULL, false);
    ig_token_runtime_note(st, (T - 2) * 1000 + 1, NULL, false);
    ig_token_runtime_note(st, (T - 2) * 1000 + 999, NULL, true);
    ig_token_runtime_note(st, T * 1000, v4, false);
    ig_token_runtime_note(st, T * 1000 + 10, v4, true);
    ig_token_runtime_note(st, T * 1000 + 500, v4, true);
    ig_token_table_read_end();

    json_object *o = ig_token_table_stats_json(e->ts, rec.id, 5, T * 1000 + 999);
    assert_non_null(o);
    assert_int_equal(field_i64(o, "intervalSeconds"), 1);
    assert_int_equal(field_i64(o, "start"), T - 4);
    int64_t want_req[5] = {0, 0, 2, 0, 3}, want_lim[5] = {0, 0, 1, 0, 2};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(arr_at(o, "requests", i), want_req[i]);
        assert_int_equal(arr_at(o, "limited", i), want_lim[i]);
    }
    assert_int_equal(field_i64(o, "totalRequests"), 6);
    assert_int_equal(field_i64(o, "totalLimited"), 3);
    json_object_put(o);

    /* A window that reaches T-300 shows only its one request. */
    o = ig_token_table_stats_json(e->ts, rec.id, 1000, T * 1000 + 999); /* clamped to 299 */
    json_object *a;
    assert_true(json_object_object_get_ex(o, "requests", &a));
    assert_int_equal(json_object_array_length(a), IG_STATS_SLOTS - 1);
    assert_int_equal(arr_at(o, "requests", IG_STATS_SLOTS - 2), 3);
    json_object_put(o);
    o = ig_token_table_stats_json(e->ts, rec.id, 1, (T - 300) * 1000);
    assert_int_equal(arr_at(o, "requests", 0), 0); /* overwritten by second T */
    json_object_put(o);

    /* Unknown id: NULL. */
    assert_null(ig_token_table_stats_json(e->ts, "tok_missing", 5, T * 1000));

    /* Last use shows through get() at once, and reaches the store with a flush. */
    assert_int_equal(ig_token_table_get(e->ts, rec.id, &out, &err), 0);
    assert_int_equal(out.last_used_at_ms, T * 1000 + 500);
    assert_string_equal(out.last_used_ip, "192.0.2.7");
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    assert_int_equal(out.last_used_at_ms, 0);
    ig_token_table_flush_usage(e->ts);
    assert_int_equal(e->st->ops->token_get(e->st, rec.id, &out, &err), 0);
    assert_int_equal(out.last_used_at_ms, T * 1000 + 500);
    assert_string_equal(out.last_used_ip, "192.0.2.7");

    /* IPv6. */
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    ig_token_table_read_begin();
    ig_token_runtime_note(find_secret(e->ts, secret)->state, T * 1000 + 2000, v6, false);
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_get(e->ts, rec.id, &out, &err), 0);
    assert_string_equal(out.last_used_ip, "2001:db8::1");
}

/* Counters are shared by versions: a suspend in between does not reset them. */
static void test_counters_survive_update(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t rec, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t spec = named("kept");
    create_ok(e->ts, "alice", &spec, secret, &rec);
    const int64_t T = NOW_MS / 1000;
    ig_token_table_read_begin();
    ig_token_runtime_note(find_secret(e->ts, secret)->state, T * 1000, NULL, true);
    ig_token_table_read_end();
    assert_int_equal(ig_token_table_suspend(e->ts, &test_admin, rec.id, NULL, &out, &err), 0);
    ig_token_table_read_begin();
    ig_token_runtime_note(find_secret(e->ts, secret)->state, T * 1000 + 1, NULL, false);
    ig_token_table_read_end();
    json_object *o = ig_token_table_stats_json(e->ts, rec.id, 2, T * 1000);
    assert_int_equal(arr_at(o, "requests", 1), 2);
    assert_int_equal(arr_at(o, "limited", 1), 1);
    assert_int_equal(field_i64(o, "totalRequests"), 2);
    json_object_put(o);
}

/* ------------------------------------------------------------------ JSON view */

static void test_token_json(void **state)
{
    (void)state;
    ig_token_row_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "tok_x");
    snprintf(t.name, sizeof t.name, "n");
    snprintf(t.owner, sizeof t.owner, "o");
    t.max_rps = 0.5;
    t.created_at_ms = NOW_MS;
    json_object *o = ig_token_to_json(&t, true, "igt_secret", NOW_MS);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "maxRps", &v));
    assert_true(json_object_get_double(v) == 0.5);
    assert_true(json_object_object_get_ex(o, "burst", &v));
    assert_int_equal(json_object_get_int(v), 1); /* max(1, ceil(0.5)) */
    assert_true(json_object_object_get_ex(o, "rateLimitEnforced", &v));
    assert_true(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(o, "token", &v));
    assert_string_equal(json_object_get_string(v), "igt_secret");
    assert_true(json_object_object_get_ex(o, "status", &v));
    assert_string_equal(json_object_get_string(v), "active");
    assert_true(json_object_object_get_ex(o, "expiresAt", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(o, "maxRpsSetBy", &v));
    assert_null(v); /* not recorded */
    assert_true(json_object_object_get_ex(o, "suspendedBy", &v));
    assert_null(v); /* not suspended */
    json_object_put(o);
    t.max_rps_set_by = IG_SET_BY_ADMIN;
    t.suspended = true;
    t.suspended_by_role = IG_SET_BY_MEMBER;
    snprintf(t.suspended_by, sizeof t.suspended_by, "mel");
    o = ig_token_to_json(&t, true, NULL, NOW_MS);
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(o, "suspendedBy"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "{\"role\":\"member\",\"user\":\"mel\"}");
    assert_string_equal(json_object_get_string(json_object_object_get(o, "maxRpsSetBy")), "admin");
    json_object_put(o);

    t.max_rps = 0;
    t.suspended = true;
    o = ig_token_to_json(&t, true, NULL, NOW_MS);
    assert_true(json_object_object_get_ex(o, "maxRpsSetBy", &v));
    assert_null(v); /* no limit, no setter */
    assert_false(json_object_object_get_ex(o, "token", &v));
    assert_true(json_object_object_get_ex(o, "burst", &v));
    assert_null(v);
    assert_true(json_object_object_get_ex(o, "rateLimitEnforced", &v));
    assert_false(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(o, "status", &v));
    assert_string_equal(json_object_get_string(v), "suspended");
    json_object_put(o);

    char buf[32];
    ig_format_rate(0.5, buf, sizeof buf);
    assert_string_equal(buf, "0.5");
    ig_format_rate(0.1, buf, sizeof buf);
    assert_string_equal(buf, "0.1");
    t.max_rps = 2.2;
    t.burst = 0;
    assert_int_equal(ig_token_effective_burst(&t), 3);
    t.burst = 9;
    assert_int_equal(ig_token_effective_burst(&t), 9);
}

/* Regression: ig_format_rate used %g, so a 429 for a 1000 rps token said "1e+03 requests per second"
 * (token_table.h promises "1000"). */
static void test_format_rate_plain_decimal(void **state)
{
    (void)state;
    static const struct {
        double r;
        const char *text;
    } cases[] = {{5, "5"},         {0.5, "0.5"},          {1000, "1000"}, {10, "10"},
                 {100, "100"},     {1000000, "1000000"},  {0.1, "0.1"},   {2.25, "2.25"},
                 {0.001, "0.001"}, {123456.5, "123456.5"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ig_format_rate(cases[i].r, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
    /* Whatever the value, the text reads back exactly and has no exponent. */
    for (double r = 0.01; r < 1e6; r = r * 3.7 + 0.013) {
        ig_format_rate(r, buf, sizeof buf);
        assert_true(strtod(buf, NULL) == r);
        assert_null(strchr(buf, 'e'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_name_errors),
        cmocka_unit_test(test_spec_name_lengths_count_characters),
        cmocka_unit_test(test_spec_max_rps_errors),
        cmocka_unit_test(test_spec_burst_errors),
        cmocka_unit_test(test_spec_expires_errors),
        cmocka_unit_test(test_spec_expires_epoch_is_past),
        cmocka_unit_test(test_spec_name_with_nul_refused),
        cmocka_unit_test(test_spec_name_strict_utf8),
        cmocka_unit_test(test_spec_shape_errors),
        cmocka_unit_test(test_spec_accepted),
        cmocka_unit_test(test_token_json),
        cmocka_unit_test(test_format_rate_plain_decimal),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspend_reason_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_owners_and_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_and_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_from_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_retries_failed_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_record_never_wins, setup, teardown),
        cmocka_unit_test(test_sync_reports_a_silent_store),
        cmocka_unit_test_setup_teardown(test_reader_slots_are_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_suspend_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_cannot_lift_admin_suspension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_lifts_member_suspension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_cannot_move_admin_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrecorded_setter_needs_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lift_check_is_atomic_with_the_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_keeps_record_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_across_rebuilds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers_and_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_and_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_survive_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
