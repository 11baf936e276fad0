/* Unit tests for viewmeta: the view documents in tests/unit/fixtures/ (a valid view and invalid ones with
 * the error each must produce), create, assert-view-uuid, every view update, -1 semantics, version expiry.
 * JSON literals use ' for " (see J()). */
#include "iceberg/tablemeta.h"
#include "iceberg/viewmeta.h"

#define FX_COMMIT(cur, reqs, ups, out, err) ig_viewmeta_commit(cur, reqs, ups, 1700000000000LL, out, err)
#define FX_VALIDATE ig_viewmeta_validate
#include "fixtures.h"

static void test_view_fixtures(void **state)
{
    (void)state;
    ig_error_t err;
    json_object *m = fixture("view-valid.json");
    expect_ok(ig_viewmeta_validate(m, &err), err);
    json_object *back = json_tokener_parse(ig_tablemeta_to_string(m));
    assert_true(json_object_equal(m, back));
    json_object_put(back);
    json_object_put(m);

    static const struct {
        const char *file, *msg;
    } cases[] = {
        {"view-invalid-current-schema.json", "cannot find current schema with id 9"},
        {"view-invalid-current-version.json", "cannot find current version 3 "},
        {"view-missing-current-version.json", "missing required field 'current-version-id'"},
        {"view-missing-location.json", "missing required field 'location'"},
        {"view-multiple-sqls-for-dialect.json", "Cannot add multiple queries for dialect spark"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        m = fixture(cases[i].file);
        int rc = ig_viewmeta_validate(m, &err);
        if (rc != -1 || ig_error_status(&err) != 400 || !strstr(err.message, cases[i].msg))
            fail_msg("%s: rc=%d message \"%s\", want \"%s\"", cases[i].file, rc, err.message, cases[i].msg);
        json_object_put(m);
    }
    /* a table document is not a view */
    m = fixture("table-v2-valid.json");
    expect_fail(ig_viewmeta_validate(m, &err), err, 400, "unsupported format-version 2");
    json_object_put(m);
}

static const char *const CREATE_VIEW =
    "{'name':'v','schema':{'type':'struct','schema-id':5,'fields':[{'id':1,'name':'id','required':false,'"
    "type':'long'}]},"
    " 'view-version':{'version-id':9,'schema-id':5,'timestamp-ms':1,'summary':{'engine-name':'spark'},"
    "   'representations':[{'type':'sql','sql':'select 1 as id','dialect':'spark'}],"
    "   'default-namespace':['ns'],'default-catalog':'cat'},"
    " 'properties':{'comment':'c'}}";

static void test_view_create(void **state)
{
    (void)state;
    ig_error_t err;
    json_object *req = J(CREATE_VIEW), *m = NULL;
    expect_ok(ig_viewmeta_create(req, "s3://wh/ns/v/", "vu-1", 4242, &m, &err), err);
    expect_ok(ig_viewmeta_validate(m, &err), err);
    assert_string_equal(gets(m, "view-uuid"), "vu-1");
    assert_int_equal(geti(m, "format-version"), 1);
    assert_string_equal(gets(m, "location"), "s3://wh/ns/v");
    assert_int_equal(geti(m, "current-version-id"), 1);
    json_object *v = idx(get(m, "versions"), 0);
    assert_int_equal(geti(v, "version-id"), 1);
    assert_int_equal(geti(v, "schema-id"), 0);
    assert_int_equal(geti(v, "timestamp-ms"), 4242);
    assert_string_equal(gets(v, "default-catalog"), "cat");
    assert_int_equal(geti(idx(get(m, "schemas"), 0), "schema-id"), 0);
    assert_int_equal(len(get(m, "version-log")), 1);
    assert_int_equal(geti(idx(get(m, "version-log"), 0), "version-id"), 1);
    assert_int_equal(geti(idx(get(m, "version-log"), 0), "timestamp-ms"), 4242);
    assert_string_equal(gets(get(m, "properties"), "comment"), "c");
    json_object_put(m);

    /* location from the request when none is resolved; none at all fails */
    json_object_object_add(req, "location", json_object_new_string("s3://other"));
    expect_ok(ig_viewmeta_create(req, NULL, "vu-1", 1, &m, &err), err);
    assert_string_equal(gets(m, "location"), "s3://other");
    json_object_put(m);
    json_object_object_del(req, "location");
    m = (json_object *)1;
    expect_fail(ig_viewmeta_create(req, NULL, "vu-1", 1, &m, &err), err, 400, "no view location");
    assert_null(m);
    json_object_put(req);

    req =
        J("{'name':'v','schema':{'type':'struct','fields':[]},'view-version':{'timestamp-ms':1,'summary':{},"
          "'representations':[],'default-namespace':[]},'properties':{}}");
    expect_fail(ig_viewmeta_create(req, "s3://x", "u", 1, &m, &err), err, 400,
                "'representations' must not be empty");
    json_object_put(req);
    req = J("{'name':'v','schema':{'type':'struct','fields':[]},'properties':{}}");
    expect_fail(ig_viewmeta_create(req, "s3://x", "u", 1, &m, &err), err, 400, "'view-version'");
    json_object_put(req);
}

static const char *const NEW_VERSION =
    "{'action':'add-view-version','view-version':{'version-id':1,'schema-id':-1,'timestamp-ms':6000,"
    "'summary':{'user':'u'},'representations':[{'type':'sql','sql':'select "
    "2','dialect':'trino'}],'default-namespace':[]}}";

static void test_view_commit_updates(void **state)
{
    (void)state;
    json_object *m = fixture("view-valid.json"), *out;
    char ups[2048];
    snprintf(
        ups, sizeof ups,
        "[{'action':'add-schema','schema':{'type':'struct','fields':[{'id':1,'name':'n','required':false,'"
        "type':'int'}]},"
        "'last-column-id':1},%s,{'action':'set-current-view-version','view-version-id':-1},"
        "{'action':'set-location','location':'s3://moved'},{'action':'set-properties','updates':{'a':'1'}},"
        "{'action':'remove-properties','removals':['owner']}]",
        NEW_VERSION);
    out = commit_ok(m, "[{'type':'assert-view-uuid','uuid':'c3a9e6f2-58d1-4b7e-a2f4-09e1b7d6c5a8'}]", ups);
    assert_int_equal(len(get(out, "schemas")), 2);
    assert_int_equal(geti(idx(get(out, "schemas"), 1), "schema-id"), 1);
    assert_int_equal(geti(out, "current-version-id"), 3);
    json_object *v = idx(get(out, "versions"), 2);
    assert_int_equal(geti(v, "version-id"), 3);
    assert_int_equal(geti(v, "schema-id"), 1); /* -1 = schema added in this commit */
    json_object *log = get(out, "version-log");
    assert_int_equal(len(log), 3);
    assert_int_equal(geti(idx(log, 2), "version-id"), 3);
    assert_int_equal(geti(idx(log, 2), "timestamp-ms"), 6000);
    assert_string_equal(gets(out, "location"), "s3://moved");
    assert_null(get(get(out, "properties"), "owner"));
    assert_string_equal(gets(get(out, "properties"), "a"), "1");
    json_object_put(out);

    /* re-adding an identical version reuses it; switching back to version 1 logs now */
    out = commit_ok(
        m, NULL,
        "[{'action':'add-view-version','view-version':{'version-id':7,'schema-id':0,'timestamp-ms':1,"
        "'summary':{'engine-name':'Spark','engine-version':'3.5.1'},'default-catalog':'prod',"
        "'default-namespace':['sales'],'representations':[{'type':'sql','sql':'SELECT order_date AS day, "
        "count(*) AS orders, sum(total) AS revenue FROM orders GROUP BY order_date','dialect':'spark'}]}},"
        "{'action':'set-current-view-version','view-version-id':-1}]");
    assert_int_equal(len(get(out, "versions")), 2);
    assert_int_equal(geti(out, "current-version-id"), 2);
    assert_int_equal(len(get(out, "version-log")), 2); /* already current: no entry */
    json_object_put(out);
    out = commit_ok(m, NULL, "[{'action':'set-current-view-version','view-version-id':1}]");
    assert_int_equal(geti(out, "current-version-id"), 1);
    assert_int_equal(geti(idx(get(out, "version-log"), 2), "timestamp-ms"), 1700000000000LL);
    json_object_put(out);

    /* assign-uuid / upgrade-format-version */
    out = commit_ok(m, NULL,
                    "[{'action':'assign-uuid','uuid':'c3a9e6f2-58d1-4b7e-a2f4-09e1b7d6c5a8'},"
                    "{'action':'upgrade-format-version','format-version':1}]");
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'assign-uuid','uuid':'x'}]", 400, "cannot reassign");
    commit_fails(m, NULL, "[{'action':'upgrade-format-version','format-version':2}]", 400,
                 "unsupported view format version 2");
    json_object_put(m);
}

static void test_view_errors(void **state)
{
    (void)state;
    json_object *m = fixture("view-valid.json");
    commit_fails(m, "[{'type':'assert-view-uuid','uuid':'nope'}]", "[]", 409, "view UUID does not match");
    commit_fails(m, "[{'type':'assert-table-uuid','uuid':'x'}]", "[]", 400, "unknown view requirement type");
    commit_fails(m, NULL, "[{'action':'add-snapshot'}]", 400, "unknown view update action \"add-snapshot\"");
    commit_fails(m, NULL, "[{'action':'set-current-view-version','view-version-id':-1}]", 400,
                 "no version was added");
    commit_fails(m, NULL, "[{'action':'set-current-view-version','view-version-id':99}]", 400,
                 "unknown view version 99");
    commit_fails(m, NULL,
                 "["
                 "{'action':'add-view-version','view-version':{'schema-id':-1,'timestamp-ms':1,'summary':{},"
                 "'representations':[{'type':'sql','sql':'s','dialect':'x'}],'default-namespace':[]}}]",
                 400, "no schema was added");
    commit_fails(m, NULL,
                 "[{'action':'add-view-version','view-version':{'schema-id':42,'timestamp-ms':1,'summary':{},"
                 "'representations':[{'type':'sql','sql':'s','dialect':'x'}],'default-namespace':[]}}]",
                 400, "unknown schema-id 42");
    commit_fails(
        m, NULL,
        "[{'action':'add-view-version','view-version':{'schema-id':0,'timestamp-ms':1,'summary':{},"
        "'representations':[{'type':'sql','sql':'a','dialect':'x'},{'type':'sql','sql':'b','dialect':'X'}],"
        "'default-namespace':[]}}]",
        400, "Cannot add multiple queries for dialect");
    commit_fails(NULL, NULL, "[]", 404, "does not exist");
    json_object_put(m);
}

static void test_view_version_expiry(void **state)
{
    (void)state;
    json_object *m = fixture("view-valid.json"), *cur = NULL;
    cur = commit_ok(m, NULL, "[{'action':'set-properties','updates':{'version.history.num-entries':'2'}}]");
    for (int i = 0; i < 3; i++) {
        char ups[1024];
        snprintf(
            ups, sizeof ups,
            "[{'action':'add-view-version','view-version':{'schema-id':0,'timestamp-ms':%d,'summary':{},"
            "'representations':[{'type':'sql','sql':'select %d','dialect':'spark'}],'default-namespace':[]}},"
            "{'action':'set-current-view-version','view-version-id':-1}]",
            10000 + i, i);
        json_object *next = commit_ok(cur, NULL, ups);
        json_object_put(cur);
        cur = next;
    }
    /* versions 1..5 were created; only the 2 newest remain, the current one among them */
    json_object *vs = get(cur, "versions");
    assert_int_equal(len(vs), 2);
    assert_int_equal(geti(cur, "current-version-id"), 5);
    assert_int_equal(geti(idx(vs, 0), "version-id"), 4);
    assert_int_equal(geti(idx(vs, 1), "version-id"), 5);
    json_object *log = get(cur, "version-log");
    assert_int_equal(len(log), 2);
    assert_int_equal(geti(idx(log, 0), "version-id"), 4);
    json_object_put(cur);
    json_object_put(m);
}

static void test_view_reuse_and_defaults(void **state)
{
    (void)state;
    ig_error_t err;
    /* a view-version without timestamp-ms is stamped by the server */
    json_object *req =
        J("{'name':'v','schema':{'type':'struct','fields':[]},'view-version':{'summary':{},"
          "'representations':[{'type':'sql','sql':'select 1','dialect':'spark'}],'default-namespace':[]}}");
    json_object *m = NULL;
    expect_ok(ig_viewmeta_create(req, "s3://v", "u", 77, &m, &err), err);
    assert_int_equal(geti(idx(get(m, "versions"), 0), "timestamp-ms"), 77);
    assert_non_null(get(m, "properties"));
    json_object_put(m);
    json_object_put(req);

    /* add-schema identical to schema 0 reuses it; -1 in add-view-version then means 0 */
    m = fixture("view-valid.json");
    json_object *out = commit_ok(
        m, NULL,
        "[{'action':'add-schema','schema':{'type':'struct','fields':[{'id':1,'name':'day','required':true,'"
        "type':'date'},"
        "{'id':2,'name':'orders','required':true,'type':'long','doc':'orders placed that day'},{'id':3,'name':"
        "'revenue','required':false,'type':'decimal(18,2)'}]}},"
        "{'action':'add-view-version','view-version':{'schema-id':-1,'timestamp-ms':9,'summary':{},"
        "'representations':[{'type':'sql','sql':'select 3','dialect':'spark'}],'default-namespace':[]}}]");
    assert_int_equal(len(get(out, "schemas")), 1);
    assert_int_equal(geti(idx(get(out, "versions"), 2), "schema-id"), 0);
    assert_int_equal(geti(out, "current-version-id"), 2); /* add alone does not switch */
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'set-properties','updates':{'version.history.num-entries':'0'}}]", 400,
                 "version.history.num-entries");
    json_object_put(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_fixtures),       cmocka_unit_test(test_view_create),
        cmocka_unit_test(test_view_commit_updates), cmocka_unit_test(test_view_errors),
        cmocka_unit_test(test_view_version_expiry), cmocka_unit_test(test_view_reuse_and_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
