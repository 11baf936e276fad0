/* test_journal — the audit log and the event outbox (DESIGN.md §8): rows written with the change they
 * describe and only with it, what the details say (old -> new, never a secret), the audit walk's filters,
 * paging and member visibility, retention, the outbox's retry and delete, and expiry notices raised once per
 * level and expiry.  Runs on the SQLite store in a temp dir, through the store ops and the token table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/journal.h"
#include "access/token_table.h"
#include "access/users.h"
#include "store/store.h"

#include <sqlite3.h>

typedef struct {
    char dir[256], db[300];
    ig_store_t *st;
    ig_token_table_t *ts;
} env_t;

static const ig_principal_t admin = {.ok = true, .role = IG_ROLE_ADMIN, .user = "root", .token_id = "tok_adm",
                                     .scopes = IG_SCOPES_ALL, .client_ip = "10.0.0.9"};
static const ig_principal_t member = {.ok = true, .role = IG_ROLE_MEMBER, .user = "mel"};

static int teardown(void **state)
{
    env_t *e = *state;
    if (!e) return 0;
    ig_token_table_free(e->ts);
    ig_store_close(e->st);
    static const char *const files[] = {"icegate.db", "icegate.db-wal", "icegate.db-shm"};
    char p[400];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", e->dir, files[i]);
        unlink(p);
    }
    rmdir(e->dir);
    free(e);
    return 0;
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    *state = e;
    snprintf(e->dir, sizeof e->dir, "/tmp/icegate-journal-XXXXXX");
    if (!mkdtemp(e->dir)) return -1;
    snprintf(e->db, sizeof e->db, "%s/icegate.db", e->dir);
    ig_error_t err;
    e->st = ig_store_sqlite_open(e->db, &err);
    e->ts = e->st ? ig_token_table_new(e->st, true, true) : NULL;
    if (!e->ts || ig_token_table_load(e->ts, &err)) return -1;
    ig_token_table_set_events(e->ts, true);
    return 0;
}

/* ------------------------------------------------------------------ helpers */

typedef struct {
    int n;
    ig_audit_entry_t e[16];
    char details[16][512];
} got_t;

static int collect(void *ud, const ig_audit_entry_t *e)
{
    got_t *g = ud;
    if (g->n == 16) return 1;
    g->e[g->n] = *e;
    snprintf(g->details[g->n], sizeof g->details[0], "%s", e->details ? e->details : "");
    g->n++;
    return 0;
}

static got_t *list(env_t *e, ig_audit_query_t q)
{
    static got_t g;
    memset(&g, 0, sizeof g);
    ig_error_t err;
    if (q.limit == 0) q.limit = 16;
    if (e->st->ops->audit_list(e->st, &q, collect, &g, &err)) fail_msg("audit_list: %s", err.message);
    return &g;
}

static int count_events(env_t *e)
{
    int n = 0;
    ig_event_t ev;
    ig_error_t err;
    /* walk the outbox by retrying each row far ahead, then put them back: counts without deleting */
    while (e->st->ops->event_next(e->st, INT64_MAX / 4, &ev, &err) == 0) {
        free(ev.body);
        assert_int_equal(e->st->ops->event_retry(e->st, ev.seq, 0, INT64_MAX / 2, &err), 0);
        n++;
    }
    return n;
}

static ig_token_spec_t named(const char *name)
{
    ig_token_spec_t s;
    memset(&s, 0, sizeof s);
    s.has_name = true;
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

/* ------------------------------------------------------------------ tests */

/* Each change writes one entry with actor, token, address and what changed; suspend/activate/delete write
 * their event; the secret appears nowhere. */
static void test_token_changes_audited(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t t, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t s = named("spark");
    s.has_max_rps = true;
    s.max_rps = 5;
    assert_int_equal(ig_token_table_create(e->ts, &admin, "mel", &s, secret, &t, &err), 0);
    ig_token_spec_t p = named("spark-2");
    p.has_max_rps = true;
    p.max_rps = 10;
    assert_int_equal(ig_token_table_update(e->ts, &admin, t.id, &p, &out, &err), 0);
    assert_int_equal(ig_token_table_suspend(e->ts, &admin, t.id, "leak", &out, &err), 0);
    assert_int_equal(ig_token_table_activate(e->ts, &admin, t.id, &out, &err), 0);
    assert_int_equal(ig_token_table_delete(e->ts, &admin, t.id, &err), 0);
    got_t *g = list(e, (ig_audit_query_t){0});
    assert_int_equal(g->n, 5);
    static const char *const want[] = {"token.delete", "token.activate", "token.suspend", "token.update",
                                       "token.create"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(g->e[i].action, want[i]);
        assert_string_equal(g->e[i].actor, "root");
        assert_string_equal(g->e[i].actor_token_id, "tok_adm");
        assert_string_equal(g->e[i].target, t.id);
        assert_string_equal(g->e[i].target_owner, "mel");
        assert_string_equal(g->e[i].client_ip, "10.0.0.9");
        assert_null(strstr(g->details[i], secret));
        assert_null(strstr(g->details[i], secret + 4));
        if (i < 4) assert_true(g->e[i].id > g->e[i + 1].id); /* newest first */
    }
    assert_non_null(strstr(g->details[3], "\"name\":{\"old\":\"spark\",\"new\":\"spark-2\"}"));
    assert_non_null(strstr(g->details[3], "\"maxRps\":{\"old\":5"));
    assert_null(strstr(g->details[3], "expiresAt")); /* unchanged fields are not listed */
    assert_non_null(strstr(g->details[2], "\"new\":\"suspended\""));
    assert_int_equal(count_events(e), 3); /* suspended, activated, deleted */
}

/* A change that fails writes no entry (same transaction), and with events off no event is written. */
static void test_failed_change_writes_nothing(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t t, out;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t s = named("dup");
    assert_int_equal(ig_token_table_create(e->ts, &admin, "mel", &s, secret, &t, &err), 0);
    assert_int_equal(ig_token_table_create(e->ts, &admin, "mel", &s, secret, &out, &err), -1); /* 409 */
    assert_int_equal(ig_token_table_suspend(e->ts, &admin, t.id, "x", &out, &err), 0);
    assert_int_equal(ig_token_table_activate(e->ts, &member, t.id, &out, &err), -1); /* 403: an admin's */
    assert_int_equal(list(e, (ig_audit_query_t){0})->n, 2);
    ig_token_table_set_events(e->ts, false);
    assert_int_equal(ig_token_table_activate(e->ts, &admin, t.id, &out, &err), 0);
    assert_int_equal(list(e, (ig_audit_query_t){0})->n, 3);
    assert_int_equal(count_events(e), 1); /* only the suspend's, made with events on */
}

/* Filters, paging by id and what a member may see. */
static void test_audit_filters_and_paging(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t a, b;
    char secret[IG_TOKEN_LEN + 1];
    ig_token_spec_t s = named("a");
    assert_int_equal(ig_token_table_create(e->ts, &admin, "mel", &s, secret, &a, &err), 0);
    s = named("b");
    assert_int_equal(ig_token_table_create(e->ts, &admin, "ann", &s, secret, &b, &err), 0);
    s = named("c");
    assert_int_equal(ig_token_table_create(e->ts, &member, "mel", &s, secret, &b, &err), 0);
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_login(&jb, "ann", false, NULL, "127.0.0.1", 5000);
    assert_int_equal(e->st->ops->journal_append(e->st, ig_journal_get(&jb), &err), 0);
    ig_journal_free(&jb);

    assert_int_equal(list(e, (ig_audit_query_t){.target = a.id})->n, 1);
    assert_int_equal(list(e, (ig_audit_query_t){.actor = "mel"})->n, 1);
    assert_int_equal(list(e, (ig_audit_query_t){.action = "console.login_failed"})->n, 1);
    assert_int_equal(list(e, (ig_audit_query_t){.action = "token.create"})->n, 3);
    /* mel: the two tokens she owns (one made by root), none of ann's, not ann's login */
    got_t *g = list(e, (ig_audit_query_t){.visible_to = "mel"});
    assert_int_equal(g->n, 2);
    g = list(e, (ig_audit_query_t){.visible_to = "ann"});
    assert_int_equal(g->n, 2); /* her token and her failed login */
    assert_string_equal(g->e[0].actor, "ann");
    /* since: the login is dated 5000 ms, before the tokens (now) */
    assert_int_equal(list(e, (ig_audit_query_t){.since_ms = 6000})->n, 3);
    /* pages of 2: ids strictly below the last one seen */
    g = list(e, (ig_audit_query_t){.limit = 2});
    assert_int_equal(g->n, 2);
    int64_t last = g->e[1].id;
    g = list(e, (ig_audit_query_t){.limit = 2, .before_id = last});
    assert_int_equal(g->n, 2);
    assert_true(g->e[0].id < last);
    g = list(e, (ig_audit_query_t){.limit = 2, .before_id = g->e[1].id});
    assert_int_equal(g->n, 0);
}

/* Retention deletes entries older than the cut, in bounded batches, and never newer ones. */
static void test_audit_prune(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    for (int i = 0; i < 5; i++) {
        ig_jbuild_t jb;
        ig_journal_init(&jb);
        ig_journal_login(&jb, "x", true, NULL, NULL, 1000 + i * 1000);
        assert_int_equal(e->st->ops->journal_append(e->st, ig_journal_get(&jb), &err), 0);
        ig_journal_free(&jb);
    }
    int64_t n = -1;
    assert_int_equal(e->st->ops->audit_prune(e->st, 4000, 2, &n, &err), 0);
    assert_int_equal(n, 2); /* the batch bound */
    assert_int_equal(e->st->ops->audit_prune(e->st, 4000, 2, &n, &err), 0);
    assert_int_equal(n, 1); /* 3000 */
    assert_int_equal(e->st->ops->audit_prune(e->st, 4000, 2, &n, &err), 0);
    assert_int_equal(n, 0);
    got_t *g = list(e, (ig_audit_query_t){0});
    assert_int_equal(g->n, 2);
    assert_int_equal(g->e[1].at_ms, 4000);
}

/* The outbox: oldest due first, a retry waits until its time, done deletes. */
/* The outbox is bounded: 100,000 undelivered events (made here with one SQL statement, as if the receiver had been
 * gone for weeks), one more through the store, and the oldest go so that the newest 100,000 stay. */
static void test_outbox_bounded(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(e->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
                                  " INSERT INTO events(id, type, body, created_at, next_at)"
                                  " SELECT 'evt_old' || i, 'token.expired', '{}', i, i FROM n",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ig_token_row_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "tok_y");
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_event(&jb, "token.expiring", &t, NULL, 200000);
    assert_int_equal(e->st->ops->journal_append(e->st, ig_journal_get(&jb), &err), 0);
    ig_journal_free(&jb);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(seq) FROM events", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 100000);
    assert_int_equal(sqlite3_column_int(st, 1), 2); /* the oldest went: 2..100000 and the new one stay */
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_outbox(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_token_row_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "tok_x");
    snprintf(t.name, sizeof t.name, "x");
    snprintf(t.owner, sizeof t.owner, "mel");
    for (int i = 0; i < 2; i++) {
        ig_jbuild_t jb;
        ig_journal_init(&jb);
        ig_journal_event(&jb, i ? "token.expired" : "token.expiring", &t, NULL, 1000 + i);
        assert_int_equal(e->st->ops->journal_append(e->st, ig_journal_get(&jb), &err), 0);
        ig_journal_free(&jb);
    }
    ig_event_t ev;
    assert_int_equal(e->st->ops->event_next(e->st, 999, &ev, &err), IG_STORE_NOTFOUND); /* not yet due */
    assert_int_equal(e->st->ops->event_next(e->st, 5000, &ev, &err), 0);
    assert_non_null(strstr(ev.body, "\"type\":\"token.expiring\""));
    assert_non_null(strstr(ev.body, "\"token\":{\"id\":\"tok_x\",\"name\":\"x\",\"owner\":\"mel\",\"expiresAt\":null}"));
    assert_non_null(strstr(ev.body, ev.id));
    int64_t first = ev.seq;
    free(ev.body);
    assert_int_equal(e->st->ops->event_retry(e->st, first, 1, 9000, &err), 0);
    assert_int_equal(e->st->ops->event_next(e->st, 5000, &ev, &err), 0);
    assert_non_null(strstr(ev.body, "token.expired")); /* the retried one waits */
    assert_int_equal(e->st->ops->event_done(e->st, ev.seq, &err), 0);
    free(ev.body);
    assert_int_equal(e->st->ops->event_next(e->st, 5000, &ev, &err), IG_STORE_NOTFOUND);
    assert_int_equal(e->st->ops->event_next(e->st, 9000, &ev, &err), 0);
    assert_int_equal(ev.seq, first);
    assert_int_equal(ev.attempts, 1);
    free(ev.body);
}

/* A notice is raised once per level and expiry, only toward nearer levels; a new expiry starts afresh. */
static void test_notices_once(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    ig_store_t *st = e->st;
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 50000, 7, NULL, &err), 0);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 50000, 7, NULL, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 50000, 1, NULL, &err), 0);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 50000, 7, NULL, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 50000, 0, NULL, &err), 0);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 50000, 1, NULL, &err), IG_STORE_NOTFOUND);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 90000, 7, NULL, &err), 0); /* extended */
    /* the event goes with the notice, and not when the notice is not raised */
    ig_token_row_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "tok_n");
    ig_jbuild_t jb;
    ig_journal_init(&jb);
    ig_journal_event(&jb, "token.expiring", &t, NULL, 1);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 90000, 7, ig_journal_get(&jb), &err), IG_STORE_NOTFOUND);
    assert_int_equal(count_events(e), 0);
    assert_int_equal(st->ops->notice_raise(st, "tok_n", 90000, 1, ig_journal_get(&jb), &err), 0);
    assert_int_equal(count_events(e), 1);
    ig_journal_free(&jb);
}

/* Users: a creation is audited with its role, never the password or its hash. */
static void test_user_create_audited(void **state)
{
    env_t *e = *state;
    ig_error_t err;
    assert_int_equal(ig_users_create(e->st, &admin, "newbie", IG_ROLE_MEMBER, "s3cret-pass", &err), 0);
    got_t *g = list(e, (ig_audit_query_t){.action = "user.create"});
    assert_int_equal(g->n, 1);
    assert_string_equal(g->e[0].target, "newbie");
    assert_string_equal(g->details[0], "{\"role\":\"member\"}");
    assert_int_equal(ig_users_create(e->st, &admin, "newbie", IG_ROLE_MEMBER, "s3cret-pass", &err), -1);
    assert_int_equal(list(e, (ig_audit_query_t){.action = "user.create"})->n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_changes_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_change_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_filters_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notices_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_create_audited, setup, teardown),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
