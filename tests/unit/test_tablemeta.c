/* Unit tests for tablemeta: the metadata documents in tests/unit/fixtures/ (valid v1/v2/v3, statistics,
 * and invalid ones with the error each must produce), create, every requirement, every update, -1
 * semantics, the sequence-number rule, caps.  build/tests/test_tablemeta finds the fixtures on its own.
 * JSON literals in this file use ' for " (see J()) to stay readable. */
#include <math.h>

#include "iceberg/tablemeta.h"

#define FX_COMMIT(cur, reqs, ups, out, err)                                                                  \
    ig_tablemeta_commit(cur, NULL, reqs, ups, 1700000000000LL, out, err)
#define FX_VALIDATE ig_tablemeta_validate
#include "fixtures.h"

/* ---------- helpers ---------- */

/* Serialize -> parse -> must equal. */
static void assert_round_trip(json_object *m)
{
    const char *s = ig_tablemeta_to_string(m);
    json_object *back = json_tokener_parse(s);
    assert_non_null(back);
    assert_true(json_object_equal(m, back));
    json_object_put(back);
}

static const int64_t SNAP1 = 4611686018427387905LL, SNAP2 = 8935141660703064071LL;

/* ---------- fixtures ---------- */

static const char *const valid_fixtures[] = {
    "table-v1-valid.json",         "table-v2-valid.json",
    "table-v2-minimal.json",  "table-v3-minimal.json",
    "table-v2-statistics.json", "table-v2-partition-statistics.json",
};

static void test_valid_fixtures_validate_and_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_fixtures / sizeof *valid_fixtures; i++) {
        json_object *m = fixture(valid_fixtures[i]);
        ig_error_t err = {0};
        int rc = ig_tablemeta_validate(m, &err);
        if (rc != 0) fail_msg("%s: %s", valid_fixtures[i], err.message);
        assert_round_trip(m);
        /* A no-op commit normalizes the document; the result must validate and round-trip too. */
        json_object *out = commit_ok(m, NULL, "[]");
        assert_round_trip(out);
        assert_int_equal(geti(out, "last-updated-ms"), 1700000000000LL);
        json_object_put(out);
        json_object_put(m);
    }
}

static void test_64bit_snapshot_ids_exact(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json");
    assert_true(geti(m, "current-snapshot-id") == SNAP2);
    const char *s = ig_tablemeta_to_string(m);
    assert_non_null(strstr(s, "\"current-snapshot-id\":8935141660703064071"));
    assert_non_null(strstr(s, "\"parent-snapshot-id\":4611686018427387905"));
    assert_null(strstr(s, "\\/")); /* no slash escaping */
    json_object *back = json_tokener_parse(s);
    assert_true(geti(back, "current-snapshot-id") == SNAP2);
    assert_true(geti(idx(get(back, "snapshots"), 0), "snapshot-id") == SNAP1);
    /* and through a commit */
    json_object *out = commit_ok(m, NULL, "[{'action':'set-properties','updates':{'a':'b'}}]");
    assert_true(geti(out, "current-snapshot-id") == SNAP2);
    assert_true(geti(get(get(out, "refs"), "main"), "snapshot-id") == SNAP2);
    assert_non_null(strstr(ig_tablemeta_to_string(out), "8935141660703064071"));
    json_object_put(out);
    json_object_put(back);
    json_object_put(m);
}

static void test_invalid_fixtures_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *file, *msg;
    } cases[] = {
        {"table-unsupported-version.json", "unsupported format-version 4 "},
        {"table-v1-missing-schema-type.json", "missing required field 'type'"},
        {"table-v2-current-schema-not-found.json", "current-schema-id 7 is not in 'schemas'"},
        {"table-v2-missing-last-partition-id.json", "missing required field 'last-partition-id'"},
        {"table-v2-missing-partition-specs.json", "missing required field 'partition-specs'"},
        {"table-v2-missing-schemas.json", "missing required field 'schemas'"},
        {"table-v2-missing-sort-orders.json", "missing required field 'sort-orders'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_object *m = fixture(cases[i].file), *out = NULL;
        ig_error_t err = {0};
        int rc = ig_tablemeta_validate(m, &err);
        if (rc != -1 || ig_error_status(&err) != 400 || !strstr(err.message, cases[i].msg))
            fail_msg("%s: rc=%d code=%d message \"%s\", want \"%s\"", cases[i].file, rc, ig_error_status(&err),
                     err.message, cases[i].msg);
        assert_string_equal(ig_error_kind_type(err.kind), "BadRequestException");
        /* a commit on it fails the same way */
        rc = commit(m, NULL, "[]", &out, &err);
        expect_fail(rc, err, 400, cases[i].msg);
        json_object_put(m);
    }
}

static void test_validate_semantic_errors(void **state)
{
    (void)state;
    ig_error_t err;
    json_object *m = fixture("table-v2-valid.json");
    json_object_object_add(m, "current-snapshot-id", json_object_new_int64(42));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "current-snapshot-id 42 is not in 'snapshots'");
    json_object_put(m);

    m = fixture("table-v2-valid.json");
    json_object_object_add(m, "default-sort-order-id", json_object_new_int64(9));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "default-sort-order-id 9");
    json_object_put(m);

    m = fixture("table-v2-valid.json");
    json_object_object_add(m, "last-sequence-number", json_object_new_int64(0));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "above last-sequence-number");
    json_object_put(m);

    m = fixture("table-v2-valid.json");
    json_object_object_add(m, "refs", J("{'main':{'type':'branch','snapshot-id':4611686018427387905}}"));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "does not match the main branch");
    json_object_put(m);

    m = fixture("table-v3-minimal.json");
    json_object_object_del(m, "next-row-id");
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "'next-row-id'");
    json_object_put(m);

    /* wrong JSON types are a 400, never an assertion inside json-c (fuzzer finding) */
    m = fixture("table-v1-valid.json");
    json_object_object_add(m, "partition-specs", json_object_new_int(3));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "'partition-specs' must be an array");
    json_object_put(m);
    m = fixture("table-v2-valid.json");
    json_object_object_add(m, "refs", json_object_new_array());
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "'refs' must be an object");
    json_object_put(m);

    m = J("[1,2]");
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "must be an object");
    json_object_put(m);
}

/* ---------- create ---------- */

static const char *const CREATE_NESTED =
    "{'name':'t','location':'s3://ignored',"
    " 'schema':{'type':'struct','schema-id':7,'identifier-field-ids':[10],'fields':["
    "  {'id':10,'name':'id','required':true,'type':'long'},"
    "  {'id':11,'name':'point','required':false,'type':{'type':'struct','fields':["
    "     {'id':20,'name':'x','required':true,'type':'double'},"
    "     {'id':21,'name':'y','required':true,'type':'double'}]}},"
    "  "
    "{'id':12,'name':'tags','required':false,'type':{'type':'list','element-id':30,'element':'string','"
    "element-required':false}},"
    "  "
    "{'id':13,'name':'attrs','required':false,'type':{'type':'map','key-id':40,'key':'string','value-id':41,"
    "     "
    "'value':{'type':'struct','fields':[{'id':50,'name':'v','required':false,'type':'int'}]},'value-required'"
    ":true}},"
    "  {'id':14,'name':'ts','required':true,'type':'timestamptz','doc':'event time'}]},"
    " 'partition-spec':{'spec-id':5,'fields':["
    "  {'name':'ts_day','transform':'day','source-id':14,'field-id':7777},"
    "  {'name':'id_bucket','transform':'bucket[16]','source-id':10},"
    "  {'name':'px','transform':'identity','source-id':20}]},"
    " 'write-order':{'order-id':9,'fields':[{'transform':'identity','source-id':21,'direction':'desc','null-"
    "order':'nulls-last'}]},"
    " 'properties':{'owner':'me'}}";

static void test_create_assigns_fresh_ids(void **state)
{
    (void)state;
    json_object *req = J(CREATE_NESTED), *m = NULL;
    ig_error_t err;
    int rc = ig_tablemeta_create(req, "s3://bucket/wh/ns/t/", "uuid-1", 1234, &m, &err);
    expect_ok(rc, err);
    assert_int_equal(ig_tablemeta_validate(m, &err), 0);
    assert_round_trip(m);

    assert_int_equal(geti(m, "format-version"), 2);
    assert_string_equal(gets(m, "table-uuid"), "uuid-1");
    assert_string_equal(gets(m, "location"), "s3://bucket/wh/ns/t");
    assert_int_equal(geti(m, "last-updated-ms"), 1234);
    assert_int_equal(geti(m, "last-sequence-number"), 0);
    assert_int_equal(geti(m, "current-schema-id"), 0);
    assert_int_equal(geti(m, "current-snapshot-id"), -1);
    assert_int_equal(len(get(m, "snapshots")), 0);
    assert_string_equal(gets(get(m, "properties"), "owner"), "me");

    /* Java's order: top-level fields 1..5, then point's x,y (6,7), tags element (8), attrs key/value (9,10),
     * then the map value struct's v (11). */
    json_object *s = idx(get(m, "schemas"), 0), *f = get(s, "fields");
    assert_int_equal(geti(s, "schema-id"), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(geti(idx(f, (size_t)i), "id"), i + 1);
    json_object *point = get(idx(f, 1), "type");
    assert_int_equal(geti(idx(get(point, "fields"), 0), "id"), 6);
    assert_int_equal(geti(idx(get(point, "fields"), 1), "id"), 7);
    assert_int_equal(geti(get(idx(f, 2), "type"), "element-id"), 8);
    json_object *map = get(idx(f, 3), "type");
    assert_int_equal(geti(map, "key-id"), 9);
    assert_int_equal(geti(map, "value-id"), 10);
    assert_int_equal(geti(idx(get(get(map, "value"), "fields"), 0), "id"), 11);
    assert_string_equal(gets(idx(f, 4), "doc"), "event time");
    assert_int_equal(geti(m, "last-column-id"), 11);
    assert_int_equal(json_object_get_int64(idx(get(s, "identifier-field-ids"), 0)), 1);

    /* partition spec: sources re-bound by column, field ids from 1000 */
    json_object *spec = idx(get(m, "partition-specs"), 0), *pf = get(spec, "fields");
    assert_int_equal(geti(spec, "spec-id"), 0);
    assert_int_equal(geti(m, "default-spec-id"), 0);
    assert_int_equal(geti(idx(pf, 0), "source-id"), 5);
    assert_int_equal(geti(idx(pf, 0), "field-id"), 1000);
    assert_int_equal(geti(idx(pf, 1), "source-id"), 1);
    assert_int_equal(geti(idx(pf, 1), "field-id"), 1001);
    assert_int_equal(geti(idx(pf, 2), "source-id"), 6);
    assert_int_equal(geti(idx(pf, 2), "field-id"), 1002);
    assert_int_equal(geti(m, "last-partition-id"), 1002);

    /* sort order 1 with re-bound source */
    json_object *so = idx(get(m, "sort-orders"), 0);
    assert_int_equal(len(get(m, "sort-orders")), 1);
    assert_int_equal(geti(so, "order-id"), 1);
    assert_int_equal(geti(m, "default-sort-order-id"), 1);
    assert_int_equal(geti(idx(get(so, "fields"), 0), "source-id"), 7);
    assert_string_equal(gets(idx(get(so, "fields"), 0), "direction"), "desc");

    /* input untouched */
    json_object *req2 = J(CREATE_NESTED);
    assert_true(json_object_equal(req, req2));
    json_object_put(req2);
    json_object_put(req);
    json_object_put(m);
}

static void test_create_unpartitioned_unsorted_and_versions(void **state)
{
    (void)state;
    ig_error_t err;
    json_object *m = NULL;
    json_object *req = J("{'name':'t','location':'file:///wh/t','schema':{'type':'struct','fields':["
                         "{'id':0,'name':'a','required':false,'type':'string'}]},"
                         "'properties':{'format-version':'3','k':'v'}}");
    expect_ok(ig_tablemeta_create(req, NULL, "u", 5, &m, &err), err);
    assert_int_equal(geti(m, "format-version"), 3);
    assert_int_equal(geti(m, "next-row-id"), 0);
    assert_string_equal(gets(m, "location"), "file:///wh/t");
    assert_int_equal(geti(m, "last-partition-id"), 999);
    assert_int_equal(len(get(idx(get(m, "partition-specs"), 0), "fields")), 0);
    assert_int_equal(geti(m, "default-sort-order-id"), 0);
    assert_int_equal(geti(idx(get(m, "sort-orders"), 0), "order-id"), 0);
    assert_int_equal(geti(m, "last-column-id"), 1);
    assert_null(get(get(m, "properties"), "format-version")); /* consumed, not stored */
    assert_string_equal(gets(get(m, "properties"), "k"), "v");
    json_object_put(m);
    json_object_put(req);

    /* v1 via request field: legacy schema/partition-spec written too */
    req = J("{'name':'t','format-version':1,'schema':{'type':'struct','fields':["
            "{'id':3,'name':'a','required':true,'type':'int'}]},"
            "'partition-spec':{'fields':[{'name':'a','transform':'identity','source-id':3}]}}");
    expect_ok(ig_tablemeta_create(req, "s3://x/t", "u", 5, &m, &err), err);
    assert_int_equal(geti(m, "format-version"), 1);
    assert_non_null(get(m, "schema"));
    assert_int_equal(geti(idx(get(m, "partition-spec"), 0), "source-id"), 1);
    assert_int_equal(ig_tablemeta_validate(m, &err), 0);
    json_object_put(m);
    json_object_put(req);

    /* default v2 without format-version */
    req = J("{'name':'t','schema':{'type':'struct','fields':[]}}");
    expect_ok(ig_tablemeta_create(req, "s3://x/t", "u", 5, &m, &err), err);
    assert_int_equal(geti(m, "format-version"), 2);
    assert_int_equal(geti(m, "last-column-id"), 0);
    assert_null(get(m, "schema"));
    json_object_put(m);
    json_object_put(req);
}

static void create_fails(const char *req_json, const char *loc, int code, const char *substr)
{
    json_object *req = J(req_json), *m = (json_object *)1;
    ig_error_t err;
    int rc = ig_tablemeta_create(req, loc, "u", 1, &m, &err);
    expect_fail(rc, err, code, substr);
    assert_null(m);
    json_object_put(req);
}

static void test_create_rejects_bad_requests(void **state)
{
    (void)state;
    create_fails("{'schema':{'type':'struct','fields':[]}}", "s3://x", 400, "'name'");
    create_fails("{'name':'t'}", "s3://x", 400, "'schema'");
    create_fails("{'name':'t','schema':{'type':'struct','fields':[]}}", NULL, 400, "no table location");
    create_fails(
        "{'name':'t','schema':{'type':'struct','fields':[{'id':1,'name':'a','required':true,'type':'lng'}]}}",
        "s3://x", 400, "unknown type \"lng\"");
    create_fails("{'name':'t','schema':{'fields':[]}}", "s3://x", 400, "'type'");
    create_fails(
        "{'name':'t','schema':{'type':'struct','fields':[{'id':1,'name':'a','required':true,'type':'int'},"
        "{'id':1,'name':'b','required':true,'type':'int'}]}}",
        "s3://x", 400, "duplicate field id 1");
    create_fails(
        "{'name':'t','schema':{'type':'struct','fields':[{'id':1,'name':'a','required':true,'type':'int'}]},"
        "'partition-spec':{'fields':[{'name':'p','transform':'identity','source-id':99}]}}",
        "s3://x", 400, "cannot find source column 99");
    create_fails(
        "{'name':'t','schema':{'type':'struct','fields':[{'id':1,'name':'a','required':true,'type':'int'}]},"
        "'write-order':{'fields':[{'transform':'identity','source-id':1,'direction':'up','null-order':'nulls-"
        "first'}]}}",
        "s3://x", 400, "direction");
    create_fails("{'name':'t','schema':{'type':'struct','fields':[]},'properties':{'format-version':'9'}}",
                 "s3://x", 400, "unsupported format-version 9");
    create_fails("{'name':'t','schema':{'type':'struct','fields':[]},'properties':{'a':1}}", "s3://x", 400,
                 "must be a string");
}

/* ---------- requirements ---------- */

static void test_requirements_pass_and_fail(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    static const struct {
        const char *pass, *fail, *msg;
    } cases[] = {
        {"[{'type':'assert-table-uuid','uuid':'4e8c2f1a-7b3d-4a96-b0e5-c81d2f9a3b67'}]",
         "[{'type':'assert-table-uuid','uuid':'00000000-0000-0000-0000-000000000000'}]",
         "UUID does not match"},
        {"[{'type':'assert-ref-snapshot-id','ref':'main','snapshot-id':8935141660703064071}]",
         "[{'type':'assert-ref-snapshot-id','ref':'main','snapshot-id':4611686018427387905}]", "has changed"},
        {"[{'type':'assert-ref-snapshot-id','ref':'dev','snapshot-id':null}]",
         "[{'type':'assert-ref-snapshot-id','ref':'main','snapshot-id':null}]", "created concurrently"},
        {"[]", "[{'type':'assert-ref-snapshot-id','ref':'dev','snapshot-id':1}]", "is missing"},
        {"[{'type':'assert-last-assigned-field-id','last-assigned-field-id':3}]",
         "[{'type':'assert-last-assigned-field-id','last-assigned-field-id':2}]",
         "last assigned field id changed"},
        {"[{'type':'assert-current-schema-id','current-schema-id':1}]",
         "[{'type':'assert-current-schema-id','current-schema-id':0}]", "current schema changed"},
        {"[{'type':'assert-last-assigned-partition-id','last-assigned-partition-id':1000}]",
         "[{'type':'assert-last-assigned-partition-id','last-assigned-partition-id':999}]",
         "last assigned partition id changed"},
        {"[{'type':'assert-default-spec-id','default-spec-id':0}]",
         "[{'type':'assert-default-spec-id','default-spec-id':1}]", "default partition spec changed"},
        {"[{'type':'assert-default-sort-order-id','default-sort-order-id':5}]",
         "[{'type':'assert-default-sort-order-id','default-sort-order-id':0}]", "default sort order changed"},
        {"[]", "[{'type':'assert-create'}]", "table already exists"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        out = commit_ok(m, cases[i].pass, "[{'action':'set-properties','updates':{'x':'1'}}]");
        json_object_put(out);
        commit_fails(m, cases[i].fail, "[{'action':'set-properties','updates':{'x':'1'}}]", 409,
                     cases[i].msg);
    }
    /* a failed requirement wins even when a later one passes; nothing applied */
    commit_fails(m,
                 "[{'type':'assert-current-schema-id','current-schema-id':0},{'type':'assert-default-spec-id'"
                 ",'default-spec-id':0}]",
                 "[]", 409, "current schema changed");
    commit_fails(m, "[{'type':'assert-something'}]", "[]", 400,
                 "unknown requirement type \"assert-something\"");
    commit_fails(m, "[{'type':'assert-current-schema-id'}]", "[]", 400, "'current-schema-id'");
    commit_fails(m, "[{'type':'assert-ref-snapshot-id','ref':'main'}]", "[]", 400, "'snapshot-id'");
    commit_fails(m, "{'type':'assert-create'}", "[]", 400, "must be an array");
    commit_fails(NULL, "[]", "[]", 404, "does not exist");
    commit_fails(NULL, "[{'type':'assert-create'},{'type':'assert-table-uuid','uuid':'x'}]", "[]", 409,
                 "metadata is missing");
    json_object_put(m);
}

/* ---------- updates ---------- */

static void test_assign_uuid_and_format_version(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL, "[{'action':'assign-uuid','uuid':'4e8c2f1a-7b3d-4a96-b0e5-c81d2f9a3b67'}]");
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'assign-uuid','uuid':'other'}]", 400, "cannot reassign");

    out = commit_ok(m, NULL, "[{'action':'upgrade-format-version','format-version':3}]");
    assert_int_equal(geti(out, "format-version"), 3);
    assert_int_equal(geti(out, "next-row-id"), 0);
    json_object_put(out);
    out = commit_ok(m, NULL, "[{'action':'upgrade-format-version','format-version':2}]"); /* same: no-op */
    assert_int_equal(geti(out, "format-version"), 2);
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'upgrade-format-version','format-version':1}]", 400,
                 "cannot downgrade v2 table to v1");
    commit_fails(m, NULL, "[{'action':'upgrade-format-version','format-version':4}]", 400,
                 "unsupported format version 4");
    json_object_put(m);

    /* v1 -> v2 upgrade of a v1 document: normalized lists kept, legacy fields dropped */
    m = fixture("table-v1-valid.json");
    out = commit_ok(m, NULL, "[{'action':'upgrade-format-version','format-version':2}]");
    assert_int_equal(geti(out, "format-version"), 2);
    assert_null(get(out, "schema"));
    assert_null(get(out, "partition-spec"));
    assert_int_equal(geti(idx(get(idx(get(out, "partition-specs"), 0), "fields"), 0), "field-id"), 1000);
    assert_int_equal(geti(out, "last-partition-id"), 1000);
    json_object_put(out);
    json_object_put(m);
}

static void test_add_schema_and_set_current(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL,
                    "[{'action':'add-schema','schema':{'type':'struct','schema-id':99,'fields':["
                    "{'id':1,'name':'x','required':true,'type':'long'},{'id':4,'name':'w','required':false,'"
                    "type':'string'}]}},"
                    "{'action':'set-current-schema','schema-id':-1}]");
    assert_int_equal(len(get(out, "schemas")), 3);
    assert_int_equal(geti(idx(get(out, "schemas"), 2), "schema-id"), 2); /* client's 99 ignored */
    assert_int_equal(geti(out, "current-schema-id"), 2);
    assert_int_equal(geti(out, "last-column-id"), 4);
    json_object_put(out);

    /* an identical schema is reused, and -1 points at it */
    out = commit_ok(m, NULL,
                    "[{'action':'add-schema','schema':{'type':'struct','fields':[{'id':1,'name':'order_id','"
                    "required':true,'type':'long'}]}},"
                    "{'action':'set-current-schema','schema-id':-1}]");
    assert_int_equal(len(get(out, "schemas")), 2);
    assert_int_equal(geti(out, "current-schema-id"), 0);
    json_object_put(out);

    /* explicit last-column-id is honoured when higher, and a lower one keeps the table's (Java sends the
     * schema's highest id after a drop of the highest-id column) */
    out = commit_ok(m, NULL,
                    "[{'action':'add-schema','last-column-id':10,'schema':{'type':'struct','fields':[{'id':5,"
                    "'name':'q','required':false,'type':'int'}]}}]");
    assert_int_equal(geti(out, "last-column-id"), 10);
    assert_int_equal(geti(out, "current-schema-id"), 1); /* unchanged without set-current-schema */
    json_object_put(out);
    out = commit_ok(m, NULL,
                    "[{'action':'add-schema','last-column-id':2,'schema':{'type':'struct','fields':[{'id':1,"
                    "'name':'x','required':false,'type':'long'}]}},{'action':'set-current-schema','schema-id':-1}]");
    assert_int_equal(geti(out, "last-column-id"), 3);
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'set-current-schema','schema-id':-1}]", 400, "nothing was added");
    commit_fails(m, NULL, "[{'action':'set-current-schema','schema-id':7}]", 400, "unknown schema-id 7");
    out = commit_ok(m, NULL, "[{'action':'set-current-schema','schema-id':0}]");
    assert_int_equal(geti(out, "current-schema-id"), 0);
    json_object_put(out);
    commit_fails(m, NULL,
                 "[{'action':'add-schema','schema':{'type':'struct','fields':[{'id':1,'name':'x','required':'"
                 "yes','type':'long'}]}}]",
                 400, "'required' must be a boolean");
    json_object_put(m);
}

static void test_add_spec_and_default(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL,
                    "[{'action':'add-spec','spec':{'fields':[{'name':'z_bucket','transform':'bucket[8]','"
                    "source-id':3}]}},"
                    "{'action':'set-default-spec','spec-id':-1}]");
    json_object *spec = idx(get(out, "partition-specs"), 1);
    assert_int_equal(geti(spec, "spec-id"), 1);
    assert_int_equal(geti(idx(get(spec, "fields"), 0), "field-id"), 1001);
    assert_int_equal(geti(out, "last-partition-id"), 1001);
    assert_int_equal(geti(out, "default-spec-id"), 1);
    json_object_put(out);

    /* re-adding the existing spec reuses id 0 */
    out = commit_ok(m, NULL,
                    "[{'action':'add-spec','spec':{'fields':[{'name':'order_id_bucket','transform':'bucket[16]',"
                    "'source-id':1,'field-id':1000}]}},"
                    "{'action':'set-default-spec','spec-id':-1}]");
    assert_int_equal(len(get(out, "partition-specs")), 1);
    assert_int_equal(geti(out, "default-spec-id"), 0);
    json_object_put(out);

    /* an unpartitioned spec */
    out = commit_ok(
        m, NULL, "[{'action':'add-spec','spec':{'fields':[]}},{'action':'set-default-spec','spec-id':-1}]");
    assert_int_equal(geti(out, "default-spec-id"), 1);
    assert_int_equal(geti(out, "last-partition-id"), 1000);
    json_object_put(out);

    commit_fails(
        m, NULL,
        "[{'action':'add-spec','spec':{'fields':[{'name':'q','transform':'identity','source-id':42}]}}]", 400,
        "cannot find source column 42");
    commit_fails(m, NULL, "[{'action':'set-default-spec','spec-id':-1}]", 400, "nothing was added");
    commit_fails(m, NULL, "[{'action':'set-default-spec','spec-id':3}]", 400, "unknown spec-id 3");
    json_object_put(m);
}

static void test_add_sort_order_and_default(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL,
                    "[{'action':'add-sort-order','sort-order':{'order-id':1,'fields':[{'transform':'identity'"
                    ",'source-id':1,"
                    "'direction':'asc','null-order':'nulls-first'}]}},{'action':'set-default-sort-order','"
                    "sort-order-id':-1}]");
    assert_int_equal(geti(out, "default-sort-order-id"), 6); /* max(5) + 1 */
    assert_int_equal(len(get(out, "sort-orders")), 2);
    json_object_put(out);

    out = commit_ok(m, NULL,
                    "[{'action':'add-sort-order','sort-order':{'order-id':5,'fields':[]}},"
                    "{'action':'set-default-sort-order','sort-order-id':-1}]");
    assert_int_equal(geti(out, "default-sort-order-id"), 0); /* unsorted is always 0 */
    json_object_put(out);

    commit_fails(m, NULL,
                 "[{'action':'add-sort-order','sort-order':{'fields':[{'transform':'identity','source-id':77,"
                 "'direction':'asc','null-order':'nulls-first'}]}}]",
                 400, "cannot find source column 77");
    commit_fails(m, NULL, "[{'action':'set-default-sort-order','sort-order-id':-1}]", 400,
                 "nothing was added");
    commit_fails(m, NULL, "[{'action':'set-default-sort-order','sort-order-id':8}]", 400,
                 "unknown sort-order-id 8");
    json_object_put(m);
}

static const char *const ADD_SNAP3 =
    "[{'action':'add-snapshot','snapshot':{'snapshot-id':9007199254740993,'parent-snapshot-id':"
    "8935141660703064071,"
    "'sequence-number':58,'timestamp-ms':1600000000000,'manifest-list':'s3://a/b/"
    "3.avro','summary':{'operation':'append'},"
    "'schema-id':1}},"
    "{'action':'set-snapshot-ref','ref-name':'main','type':'branch','snapshot-id':9007199254740993}]";

static void test_add_snapshot_and_main_ref(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, "[{'type':'assert-ref-snapshot-id','ref':'main','snapshot-id':8935141660703064071}]",
                    ADD_SNAP3);
    assert_int_equal(geti(out, "last-sequence-number"), 58);
    assert_true(geti(out, "current-snapshot-id") == 9007199254740993LL); /* 2^53 + 1: no double in the path */
    assert_true(geti(get(get(out, "refs"), "main"), "snapshot-id") == 9007199254740993LL);
    assert_string_equal(gets(get(get(out, "refs"), "main"), "type"), "branch");
    json_object *log = get(out, "snapshot-log");
    assert_int_equal(len(log), 3);
    assert_true(geti(idx(log, 2), "snapshot-id") == 9007199254740993LL);
    assert_int_equal(geti(idx(log, 2), "timestamp-ms"), 1600000000000LL); /* the added snapshot's time */
    assert_int_equal(len(get(out, "snapshots")), 3);
    assert_non_null(strstr(ig_tablemeta_to_string(out), "9007199254740993"));
    json_object_put(out);

    /* the sequence-number rule, for a snapshot with a parent */
    commit_fails(
        m, NULL,
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':5,'parent-snapshot-id':8935141660703064071,"
        "'sequence-number':57,'timestamp-ms':1,'manifest-list':'m','summary':{'operation':'append'}}}]",
        409, "sequence number 57 older than or equal to last sequence number 57");
    /* a parentless one (a replace transaction's) is exempt, as in Java, and last-sequence-number stays */
    out = commit_ok(m, NULL,
                    "[{'action':'add-snapshot','snapshot':{'snapshot-id':5,'sequence-number':57,'timestamp-ms':1,"
                    "'manifest-list':'m','summary':{'operation':'overwrite'}}}]");
    assert_int_equal(geti(out, "last-sequence-number"), 57);
    assert_int_equal(len(get(out, "snapshots")), 3);
    json_object_put(out);
    commit_fails(m, NULL,
                 "[{'action':'add-snapshot','snapshot':{'snapshot-id':5,'timestamp-ms':1,"
                 "'manifest-list':'m','summary':{'operation':'append'}}}]",
                 400, "'sequence-number'");
    commit_fails(m, NULL,
                 "[{'action':'add-snapshot','snapshot':{'snapshot-id':5,'parent-snapshot-id':6,'sequence-"
                 "number':60,'timestamp-ms':1,"
                 "'manifest-list':'m','summary':{'operation':'append'}}}]",
                 400, "parent snapshot 6");
    commit_fails(m, NULL,
                 "[{'action':'add-snapshot','snapshot':{'snapshot-id':8935141660703064071,'sequence-number':"
                 "60,'timestamp-ms':1,"
                 "'manifest-list':'m','summary':{'operation':'append'}}}]",
                 400, "already exists");
    commit_fails(
        m, NULL,
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':5,'sequence-number':60,'timestamp-ms':1,"
        "'manifest-list':'m'}}]",
        400, "'summary'");
    /* two snapshots in one commit: sequence numbers must increase */
    commit_fails(m, NULL,
                 "[{'action':'add-snapshot','snapshot':{'snapshot-id':5,'sequence-number':60,'timestamp-ms':"
                 "1,'manifest-list':'m','summary':{'operation':'append'}}},"
                 "{'action':'add-snapshot','snapshot':{'snapshot-id':6,'parent-snapshot-id':5,'sequence-"
                 "number':60,'timestamp-ms':2,'manifest-list':'m','summary':{'operation':'append'}}}]",
                 409, "older than or equal to last sequence number 60");
    json_object_put(m);

    /* v1: no sequence numbers */
    m = fixture("table-v1-valid.json");
    out = commit_ok(
        m, NULL,
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':77,'timestamp-ms':10,'manifest-list':'m'}},"
        "{'action':'set-snapshot-ref','ref-name':'main','type':'branch','snapshot-id':77}]");
    assert_int_equal(geti(out, "current-snapshot-id"), 77);
    assert_int_equal(geti(out, "last-sequence-number"), 0);
    json_object_put(out);
    json_object_put(m);
}

static void test_v3_row_lineage(void **state)
{
    (void)state;
    json_object *m = fixture("table-v3-minimal.json"), *out;
    out = commit_ok(
        m, NULL,
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':1,'sequence-number':9,'timestamp-ms':1,"
        "'manifest-list':'m','summary':{'operation':'append'},'first-row-id':0,'added-rows':25}}]");
    assert_int_equal(geti(out, "next-row-id"), 25);
    json_object *again =
        commit_ok(out, NULL,
                  "[{'action':'add-snapshot','snapshot':{'snapshot-id':2,'parent-snapshot-id':1,'sequence-"
                  "number':10,'timestamp-ms':2,"
                  "'manifest-list':'m','summary':{'operation':'append'},'first-row-id':25,'added-rows':5}}]");
    assert_int_equal(geti(again, "next-row-id"), 30);
    commit_fails(
        out, NULL,
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':3,'sequence-number':10,'timestamp-ms':2,"
        "'manifest-list':'m','summary':{'operation':'append'},'first-row-id':3,'added-rows':5}}]",
        409, "behind table next-row-id");
    commit_fails(
        out, NULL,
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':3,'sequence-number':10,'timestamp-ms':2,"
        "'manifest-list':'m','summary':{'operation':'append'}}}]",
        400, "'first-row-id'");
    json_object_put(again);
    json_object_put(out);
    json_object_put(m);
}

static void test_refs_branches_tags(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL,
                    "[{'action':'set-snapshot-ref','ref-name':'v1','type':'tag','snapshot-id':"
                    "4611686018427387905,'max-ref-age-ms':1000},"
                    "{'action':'set-snapshot-ref','ref-name':'dev','type':'branch','snapshot-id':"
                    "4611686018427387905,'min-snapshots-to-keep':2}]");
    json_object *refs = get(out, "refs");
    assert_string_equal(gets(get(refs, "v1"), "type"), "tag");
    assert_int_equal(geti(get(refs, "v1"), "max-ref-age-ms"), 1000);
    assert_int_equal(geti(get(refs, "dev"), "min-snapshots-to-keep"), 2);
    assert_true(geti(out, "current-snapshot-id") == SNAP2); /* main untouched */
    assert_int_equal(len(get(out, "snapshot-log")), 2);     /* no log entry for non-main refs */

    /* main rollback to the older snapshot: current + snapshot-log (stamped now) */
    json_object *out2 = commit_ok(out, NULL,
                                  "[{'action':'set-snapshot-ref','ref-name':'main','type':'branch','snapshot-"
                                  "id':4611686018427387905}]");
    assert_true(geti(out2, "current-snapshot-id") == SNAP1);
    assert_int_equal(len(get(out2, "snapshot-log")), 3);
    assert_int_equal(geti(idx(get(out2, "snapshot-log"), 2), "timestamp-ms"), 1700000000000LL);
    json_object_put(out2);

    /* remove-snapshot-ref */
    out2 = commit_ok(out, NULL,
                     "[{'action':'remove-snapshot-ref','ref-name':'v1'},{'action':'remove-snapshot-ref','ref-"
                     "name':'main'}]");
    assert_null(get(get(out2, "refs"), "v1"));
    assert_null(get(get(out2, "refs"), "main"));
    assert_int_equal(geti(out2, "current-snapshot-id"), -1);
    json_object_put(out2);

    commit_fails(m, NULL, "[{'action':'set-snapshot-ref','ref-name':'x','type':'branch','snapshot-id':123}]",
                 400, "unknown snapshot 123");
    commit_fails(
        m, NULL,
        "[{'action':'set-snapshot-ref','ref-name':'main','type':'tag','snapshot-id':4611686018427387905}]",
        400, "'main' must be a branch");
    commit_fails(m, NULL,
                 "[{'action':'set-snapshot-ref','ref-name':'x','type':'tag','snapshot-id':"
                 "4611686018427387905,'min-snapshots-to-keep':1}]",
                 400, "tags do not support");
    commit_fails(
        m, NULL,
        "[{'action':'set-snapshot-ref','ref-name':'x','type':'leaf','snapshot-id':4611686018427387905}]", 400,
        "\"branch\" or \"tag\"");
    json_object_put(out);
    json_object_put(m);
}

static void test_remove_snapshots(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL, "[{'action':'remove-snapshots','snapshot-ids':[4611686018427387905]}]");
    assert_int_equal(len(get(out, "snapshots")), 1);
    assert_int_equal(len(get(out, "snapshot-log")), 1); /* history before the removed one dropped */
    assert_true(geti(idx(get(out, "snapshot-log"), 0), "snapshot-id") == SNAP2);
    assert_true(geti(out, "current-snapshot-id") == SNAP2);
    json_object_put(out);

    /* removing the current snapshot removes main */
    out = commit_ok(m, NULL, "[{'action':'remove-snapshots','snapshot-ids':[8935141660703064071]}]");
    assert_int_equal(geti(out, "current-snapshot-id"), -1);
    assert_null(get(get(out, "refs"), "main"));
    assert_int_equal(len(get(out, "snapshot-log")), 0);
    json_object_put(out);

    /* statistics of a removed snapshot go too */
    json_object *st = fixture("table-v2-statistics.json");
    out = commit_ok(st, NULL, "[{'action':'remove-snapshots','snapshot-ids':[9223372036854775807]}]");
    assert_int_equal(len(get(out, "statistics")), 0);
    json_object_put(out);
    json_object_put(st);
    commit_fails(m, NULL, "[{'action':'remove-snapshots','snapshot-ids':['a']}]", 400, "must hold integers");
    json_object_put(m);
}

static void test_location_and_properties(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL,
                    "[{'action':'set-location','location':'s3://new/loc'},"
                    "{'action':'set-properties','updates':{'a':'1','b':'2'}},"
                    "{'action':'remove-properties','removals':['a','nope']}]");
    assert_string_equal(gets(out, "location"), "s3://new/loc");
    assert_null(get(get(out, "properties"), "a"));
    assert_string_equal(gets(get(out, "properties"), "b"), "2");
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'set-properties','updates':{'a':1}}]", 400, "must be a string");
    commit_fails(m, NULL, "[{'action':'remove-properties','removals':[1]}]", 400, "must hold strings");
    commit_fails(m, NULL, "[{'action':'set-location','location':''}]", 400, "must not be empty");
    commit_fails(m, NULL, "[{'action':'set-location'}]", 400, "missing required field 'location'");
    json_object_put(m);
}

static void test_statistics(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out, *out2;
    out = commit_ok(
        m, NULL,
        "[{'action':'set-statistics','statistics':{'snapshot-id':8935141660703064071,'statistics-path':'s3://"
        "s/1.puffin',"
        "'file-size-in-bytes':10,'file-footer-size-in-bytes':2,'blob-metadata':[]}},"
        "{'action':'set-statistics','statistics':{'snapshot-id':8935141660703064071,'statistics-path':'s3://"
        "s/2.puffin',"
        "'file-size-in-bytes':11,'file-footer-size-in-bytes':2,'blob-metadata':[]}},"
        "{'action':'set-partition-statistics','partition-statistics':{'snapshot-id':8935141660703064071,"
        "'statistics-path':'s3://s/p.parquet','file-size-in-bytes':5}}]");
    assert_int_equal(len(get(out, "statistics")), 1); /* replaced, keyed by snapshot */
    assert_string_equal(gets(idx(get(out, "statistics"), 0), "statistics-path"), "s3://s/2.puffin");
    assert_int_equal(len(get(out, "partition-statistics")), 1);
    out2 = commit_ok(out, NULL,
                     "[{'action':'remove-statistics','snapshot-id':8935141660703064071},"
                     "{'action':'remove-partition-statistics','snapshot-id':8935141660703064071}]");
    assert_int_equal(len(get(out2, "statistics")), 0);
    assert_int_equal(len(get(out2, "partition-statistics")), 0);
    json_object_put(out2);
    json_object_put(out);
    commit_fails(m, NULL,
                 "[{'action':'set-statistics','statistics':{'snapshot-id':1,'statistics-path':'p','file-size-"
                 "in-bytes':1}}]",
                 400, "'file-footer-size-in-bytes'");
    json_object_put(m);
}

static void test_remove_specs_and_schemas(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *out;
    out = commit_ok(m, NULL, "[{'action':'remove-schemas','schema-ids':[0]}]");
    assert_int_equal(len(get(out, "schemas")), 1);
    assert_int_equal(geti(idx(get(out, "schemas"), 0), "schema-id"), 1);
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'remove-schemas','schema-ids':[1]}]", 400,
                 "cannot remove the current schema 1");

    out = commit_ok(m, NULL,
                    "[{'action':'add-spec','spec':{'fields':[]}},{'action':'set-default-spec','spec-id':-1},"
                    "{'action':'remove-partition-specs','spec-ids':[0]}]");
    assert_int_equal(len(get(out, "partition-specs")), 1);
    assert_int_equal(geti(out, "default-spec-id"), 1);
    json_object_put(out);
    commit_fails(m, NULL, "[{'action':'remove-partition-specs','spec-ids':[0]}]", 400,
                 "cannot remove the default partition spec 0");
    json_object_put(m);
}

static void test_encryption_keys(void **state)
{
    (void)state;
    json_object *m = fixture("table-v3-minimal.json"), *out, *out2;
    out = commit_ok(
        m, NULL,
        "[{'action':'add-encryption-key','encryption-key':{'key-id':'k1','encrypted-key-metadata':'AAAA'}},"
        "{'action':'add-encryption-key','encryption-key':{'key-id':'k2','encrypted-key-metadata':'BBBB'}}]");
    assert_int_equal(len(get(out, "encryption-keys")), 2);
    out2 = commit_ok(out, NULL, "[{'action':'remove-encryption-key','key-id':'k1'}]");
    assert_int_equal(len(get(out2, "encryption-keys")), 1);
    assert_string_equal(gets(idx(get(out2, "encryption-keys"), 0), "key-id"), "k2");
    json_object_put(out2);
    json_object_put(out);
    json_object_put(m);
}

static void test_unknown_and_malformed_updates(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json");
    commit_fails(m, NULL, "[{'action':'drop-everything'}]", 400,
                 "unknown table update action \"drop-everything\"");
    commit_fails(m, NULL, "[{'action':'enable-row-lineage'}]", 400, "unknown table update action");
    commit_fails(m, NULL, "[{'no-action':1}]", 400, "missing required field 'action'");
    commit_fails(m, NULL, "[42]", 400, "expected a JSON object");
    commit_fails(m, NULL, "{'action':'set-location'}", 400, "must be an array");
    /* an error in a later update means nothing is returned */
    commit_fails(m, NULL, "[{'action':'set-location','location':'s3://ok'},{'action':'nope'}]", 400, "nope");
    json_object_put(m);
}

static void test_metadata_log_and_timestamps(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json"), *u = J("[]"), *out = NULL, *out2 = NULL;
    ig_error_t err;
    expect_ok(ig_tablemeta_commit(m, "s3://icegate-test/warehouse/sales/orders/metadata/00001-a.metadata.json",
                                  NULL, u, 1800000000000LL, &out, &err),
              err);
    assert_int_equal(geti(out, "last-updated-ms"), 1800000000000LL);
    json_object *log = get(out, "metadata-log");
    assert_int_equal(len(log), 1);
    assert_string_equal(gets(idx(log, 0), "metadata-file"),
                        "s3://icegate-test/warehouse/sales/orders/metadata/00001-a.metadata.json");
    assert_int_equal(geti(idx(log, 0), "timestamp-ms"), 1714003200123LL); /* previous last-updated-ms */

    /* trimmed to write.metadata.previous-versions-max */
    json_object *p =
        J("[{'action':'set-properties','updates':{'write.metadata.previous-versions-max':'1'}}]");
    expect_ok(ig_tablemeta_commit(out, "s3://m/2.json", NULL, p, 1800000000001LL, &out2, &err), err);
    assert_int_equal(len(get(out2, "metadata-log")), 1);
    assert_string_equal(gets(idx(get(out2, "metadata-log"), 0), "metadata-file"), "s3://m/2.json");
    json_object_put(p);
    json_object_put(out2);
    json_object_put(out);
    json_object_put(u);
    json_object_put(m);
}

static void test_inputs_not_modified(void **state)
{
    (void)state;
    json_object *m = fixture("table-v1-valid.json"), *copy = fixture("table-v1-valid.json"), *out;
    out = commit_ok(m, NULL,
                    "[{'action':'upgrade-format-version','format-version':2},{'action':'set-properties','"
                    "updates':{'a':'b'}}]");
    assert_true(json_object_equal(m, copy));
    json_object_put(out);
    json_object_put(copy);
    json_object_put(m);
}

/* The update list Spark / PyIceberg send for a staged create (CTAS). */
static const char *const STAGED_CREATE =
    "[{'action':'assign-uuid','uuid':'11111111-2222-3333-4444-555555555555'},"
    " {'action':'upgrade-format-version','format-version':2},"
    " {'action':'add-schema','schema':{'type':'struct','schema-id':0,'fields':["
    "   "
    "{'id':1,'name':'id','required':false,'type':'long'},{'id':2,'name':'data','required':false,'type':'"
    "string'}]},'last-column-id':2},"
    " {'action':'set-current-schema','schema-id':-1},"
    " {'action':'add-spec','spec':{'spec-id':0,'fields':[{'name':'id_bucket','transform':'bucket[4]','source-"
    "id':1,'field-id':1000}]}},"
    " {'action':'set-default-spec','spec-id':-1},"
    " {'action':'add-sort-order','sort-order':{'order-id':0,'fields':[]}},"
    " {'action':'set-default-sort-order','sort-order-id':-1},"
    " {'action':'set-location','location':'s3://wh/ns/ctas'},"
    " {'action':'set-properties','updates':{'owner':'spark'}},"
    " {'action':'add-snapshot','snapshot':{'snapshot-id':4242424242424242424,'sequence-number':1,'timestamp-"
    "ms':1700000000000,"
    "   "
    "'manifest-list':'s3://wh/ns/ctas/metadata/snap.avro','summary':{'operation':'append'},'schema-id':0}},"
    " {'action':'set-snapshot-ref','ref-name':'main','type':'branch','snapshot-id':4242424242424242424}]";

static void test_staged_create_commit(void **state)
{
    (void)state;
    json_object *out = commit_ok(NULL, "[{'type':'assert-create'}]", STAGED_CREATE);
    assert_string_equal(gets(out, "table-uuid"), "11111111-2222-3333-4444-555555555555");
    assert_int_equal(geti(out, "format-version"), 2);
    assert_int_equal(geti(out, "current-schema-id"), 0);
    assert_int_equal(geti(out, "last-column-id"), 2);
    assert_int_equal(geti(out, "default-spec-id"), 0);
    assert_int_equal(geti(out, "last-partition-id"), 1000);
    assert_int_equal(geti(out, "default-sort-order-id"), 0);
    assert_string_equal(gets(out, "location"), "s3://wh/ns/ctas");
    assert_true(geti(out, "current-snapshot-id") == 4242424242424242424LL);
    assert_int_equal(geti(out, "last-sequence-number"), 1);
    assert_int_equal(len(get(out, "metadata-log")), 0);
    assert_round_trip(out);
    json_object_put(out);

    /* minimal: no spec/order updates -> unpartitioned, unsorted */
    out = commit_ok(
        NULL, "[{'type':'assert-create'}]",
        "[{'action':'assign-uuid','uuid':'u'},{'action':'upgrade-format-version','format-version':1},"
        "{'action':'add-schema','schema':{'type':'struct','fields':[]}},{'action':'set-current-schema','"
        "schema-id':-1},"
        "{'action':'set-location','location':'s3://x'}]");
    assert_int_equal(geti(out, "format-version"), 1);
    assert_int_equal(geti(out, "default-spec-id"), 0);
    assert_int_equal(geti(out, "default-sort-order-id"), 0);
    assert_int_equal(geti(out, "last-partition-id"), 999);
    json_object_put(out);

    /* DuckDB's order: add-spec, add-sort-order and a snapshot before set-current-schema (last).  A spec with
     * fields binds to the schema added in the same commit; one naming a column it lacks is refused. */
#define DUCK(spec_fields)                                                                           \
    "[{'action':'assign-uuid','uuid':'d'},{'action':'upgrade-format-version','format-version':2},"  \
    "{'action':'add-schema','schema':{'type':'struct','schema-id':0,'fields':[{'id':1,'name':'id'," \
    "'required':false,'type':'long'}]},'last-column-id':1},"                                        \
    "{'action':'add-spec','spec':{'spec-id':0,'fields':[" spec_fields "]}},"                        \
    "{'action':'set-default-spec','spec-id':-1},"                                                   \
    "{'action':'add-sort-order','sort-order':{'order-id':0,'fields':[]}},"                          \
    "{'action':'set-default-sort-order','sort-order-id':-1},"                                       \
    "{'action':'set-location','location':'s3://wh/duck'},{'action':'set-properties','updates':{}}," \
    "{'action':'set-current-schema','schema-id':0}]"
    out = commit_ok(NULL, "[{'type':'assert-create'}]", DUCK(""));
    assert_int_equal(geti(out, "current-schema-id"), 0);
    assert_int_equal(len(get(idx(get(out, "partition-specs"), 0), "fields")), 0);
    json_object_put(out);
    out = commit_ok(NULL, "[{'type':'assert-create'}]",
                    DUCK("{'name':'id_b','transform':'bucket[4]','source-id':1}"));
    assert_int_equal(geti(idx(get(idx(get(out, "partition-specs"), 0), "fields"), 0), "field-id"), 1000);
    json_object_put(out);
    commit_fails(NULL, "[{'type':'assert-create'}]",
                 DUCK("{'name':'x_b','transform':'bucket[4]','source-id':7}"), 400, "cannot find source column 7");
#undef DUCK
    /* a spec with fields and no schema at all is still refused */
    commit_fails(NULL, "[{'type':'assert-create'}]",
                 "[{'action':'add-spec','spec':{'fields':[{'name':'a','transform':'identity','source-id':1}]}}]",
                 400, "add-spec: the table has no current schema");

    commit_fails(NULL, "[{'type':'assert-create'}]", "[{'action':'set-location','location':'s3://x'}]", 400,
                 "requires an assign-uuid");
    commit_fails(NULL, "[{'type':'assert-create'}]", "[{'action':'assign-uuid','uuid':'u'}]", 400,
                 "requires a set-location");
}

static void test_only_ref_snapshots(void **state)
{
    (void)state;
    json_object *m = fixture("table-v2-valid.json");
    json_object *r = ig_tablemeta_only_ref_snapshots(m);
    assert_non_null(r);
    assert_int_equal(len(get(r, "snapshots")), 1);
    assert_true(geti(idx(get(r, "snapshots"), 0), "snapshot-id") == SNAP2);
    assert_int_equal(len(get(m, "snapshots")), 2); /* input untouched */
    json_object_put(r);

    json_object *t = commit_ok(
        m, NULL,
        "[{'action':'set-snapshot-ref','ref-name':'old','type':'tag','snapshot-id':4611686018427387905}]");
    r = ig_tablemeta_only_ref_snapshots(t);
    assert_int_equal(len(get(r, "snapshots")), 2);
    json_object_put(r);
    json_object_put(t);
    assert_null(ig_tablemeta_only_ref_snapshots(NULL));
    json_object_put(m);
}

static void test_caps(void **state)
{
    (void)state;
    ig_error_t err;
    /* nesting: 70 levels of arrays inside a property update */
    char buf[512];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "[{'action':'set-properties','updates':");
    for (int i = 0; i < 70; i++)
        buf[n++] = '[';
    for (int i = 0; i < 70; i++)
        buf[n++] = ']';
    snprintf(buf + n, sizeof buf - n, "}]");
    json_tokener *tok = json_tokener_new_ex(200);
    for (char *p = buf; *p; p++)
        if (*p == '\'') *p = '"';
    json_object *deep = json_tokener_parse_ex(tok, buf, (int)strlen(buf));
    json_tokener_free(tok);
    assert_non_null(deep);
    json_object *m = fixture("table-v2-valid.json"), *out = NULL;
    expect_fail(ig_tablemeta_commit(m, NULL, NULL, deep, 1, &out, &err), err, 400, "nested deeper than 64");
    json_object_put(deep);

    /* NaN / Infinity are refused (json-c would write them back as invalid JSON) */
    json_object *nan = J("[{'action':'set-properties','updates':{}}]");
    json_object_object_add(idx(nan, 0), "x", json_object_new_double(NAN));
    out = NULL;
    expect_fail(ig_tablemeta_commit(m, NULL, NULL, nan, 1, &out, &err), err, 400, "not finite");
    json_object_put(nan);

    /* an int32 field outside int32 is refused by name; INT32_MAX itself is fine */
    commit_fails(m, NULL,
                 "[{'action':'add-schema','schema':{'type':'struct','fields':[{'id':2147483648,'name':'big',"
                 "'required':false,'type':'long'}]}}]",
                 400, "field 'id': integer outside the 32-bit range");
    commit_fails(m, NULL, "[{'action':'set-current-schema','schema-id':-2147483649}]", 400,
                 "field 'schema-id': integer outside the 32-bit range");
    commit_fails(m, NULL,
                 "[{'action':'add-spec','spec':{'fields':[{'name':'b','transform':'identity','source-ids':[1,"
                 "4294967296]}]}}]",
                 400, "field 'source-ids': integer outside the 32-bit range");
    out = commit_ok(m, NULL,
                    "[{'action':'add-schema','schema':{'type':'struct','fields':[{'id':2147483647,'name':'max',"
                    "'required':false,'type':'long'}]}}]");
    assert_int_equal(geti(out, "last-column-id"), 2147483647);
    json_object_put(out);

    /* 100,001 fields */
    json_object *fields = json_object_new_array();
    for (int i = 1; i <= 100001; i++) {
        json_object *f = json_object_new_object();
        char name[32];
        snprintf(name, sizeof name, "c%d", i);
        json_object_object_add(f, "id", json_object_new_int(i));
        json_object_object_add(f, "name", json_object_new_string(name));
        json_object_object_add(f, "required", json_object_new_boolean(0));
        json_object_object_add(f, "type", json_object_new_string("int"));
        json_object_array_add(fields, f);
    }
    json_object *req = J("{'name':'t','schema':{'type':'struct'}}");
    json_object_object_add(get(req, "schema"), "fields", fields);
    out = NULL;
    expect_fail(ig_tablemeta_create(req, "s3://x", "u", 1, &out, &err), err, 400, "more than 100000 fields");
    assert_null(out);
    json_object_put(req);
    json_object_put(m);
}

static void test_edge_cases(void **state)
{
    (void)state;
    /* ids near the 32-bit limit: no overflow, a clear 400 */
    json_object *m = fixture("table-v2-valid.json"), *out;
    json_object *s1 = idx(get(m, "schemas"), 1);
    json_object_object_add(s1, "schema-id", json_object_new_int64(2147483647));
    json_object_object_add(m, "current-schema-id", json_object_new_int64(2147483647));
    commit_fails(m, NULL, "[{'action':'add-schema','schema':{'type':'struct','fields':[]}}]", 400,
                 "no schema-id left");
    json_object_put(m);

    /* setting main to the snapshot it already points at changes nothing, logs nothing */
    m = fixture("table-v2-valid.json");
    out = commit_ok(m, NULL,
                    "[{'action':'set-snapshot-ref','ref-name':'main','type':'branch','snapshot-id':"
                    "8935141660703064071}]");
    assert_int_equal(len(get(out, "snapshot-log")), 2);
    json_object_put(out);

    /* current-snapshot-id null (newer writers) reads as no current snapshot */
    json_object_object_add(m, "current-snapshot-id", NULL);
    json_object_object_add(m, "refs", json_object_new_object());
    out = commit_ok(m, NULL, "[]");
    assert_int_equal(geti(out, "current-snapshot-id"), -1);
    json_object_put(out);
    json_object_put(m);

    /* v1 document without table-uuid and without snapshots validates and commits */
    m = fixture("table-v1-valid.json");
    json_object_object_del(m, "table-uuid");
    json_object_object_del(m, "snapshots");
    ig_error_t err;
    expect_ok(ig_tablemeta_validate(m, &err), err);
    json_object_put(m);

    /* unknown extra fields survive a commit */
    m = fixture("table-v2-valid.json");
    json_object_object_add(m, "x-vendor", json_object_new_string("kept"));
    out = commit_ok(m, NULL, "[]");
    assert_string_equal(gets(out, "x-vendor"), "kept");
    json_object_put(out);
    json_object_put(m);
}

static void test_more_validation_and_reuse(void **state)
{
    (void)state;
    ig_error_t err;
    json_object *m = fixture("table-v2-valid.json"), *out;
    json_object_array_add(get(m, "snapshots"), json_object_get(idx(get(m, "snapshots"), 0)));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "duplicate snapshot-id 4611686018427387905");
    json_object_put(m);

    m = fixture("table-v2-valid.json");
    json_object_object_add(m, "refs",
                           J("{'main':{'type':'branch','snapshot-id':8935141660703064071},"
                             "'gone':{'type':'tag','snapshot-id':12}}"));
    expect_fail(ig_tablemeta_validate(m, &err), err, 400, "ref 'gone' points to unknown snapshot 12");
    json_object_put(m);

    /* v1 partition fields without field-id are 1000, 1001, ... */
    m = fixture("table-v1-valid.json");
    json_object_object_del(idx(get(m, "partition-spec"), 0), "field-id");
    out = commit_ok(m, NULL, "[]");
    assert_int_equal(geti(idx(get(out, "partition-spec"), 0), "field-id"), 1000);
    assert_int_equal(geti(out, "last-partition-id"), 1000);
    json_object_put(out);
    json_object_put(m);

    /* v3 multi-argument transforms (source-ids) */
    m = fixture("table-v3-minimal.json");
    out = commit_ok(
        m, NULL,
        "[{'action':'add-spec','spec':{'fields':[{'name':'xy','transform':'bucket[4]','source-ids':[1,2]}]}},"
        "{'action':'set-default-spec','spec-id':-1}]");
    assert_int_equal(geti(out, "default-spec-id"), 1);
    json_object_put(out);
    commit_fails(m, NULL,
                 "[{'action':'add-spec','spec':{'fields':[{'name':'xy','transform':'bucket[4]','source-ids':["
                 "1,9]}]}}]",
                 400, "cannot find source column 9");
    commit_fails(m, NULL, "[{'action':'add-spec','spec':{'fields':[{'name':'xy','transform':'bucket[4]'}]}}]",
                 400, "missing required field 'source-id'");
    commit_fails(m, NULL,
                 "[{'action':'add-spec','spec':{'fields':[{'name':'a','transform':'identity','source-id':1},"
                 "{'name':'a','transform':'identity','source-id':2}]}}]",
                 400, "duplicate partition field name 'a'");

    /* re-adding the existing sort order reuses id 5 */
    out = commit_ok(m, NULL,
                    "[{'action':'add-sort-order','sort-order':{'order-id':0,'fields':["
                    "{'transform':'identity','source-id':3,'direction':'desc','null-order':'nulls-last'},"
                    "{'transform':'bucket[8]','source-id':2,'direction':'asc','null-order':'nulls-first'}]}},"
                    "{'action':'set-default-sort-order','sort-order-id':-1}]");
    assert_int_equal(len(get(out, "sort-orders")), 1);
    assert_int_equal(geti(out, "default-sort-order-id"), 5);
    json_object_put(out);
    json_object_put(m);

    /* a created table takes commits: create -> add snapshot -> main */
    json_object *req = J(CREATE_NESTED), *t = NULL;
    expect_ok(ig_tablemeta_create(req, "s3://b/t", "u", 1, &t, &err), err);
    out = commit_ok(
        t,
        "[{'type':'assert-ref-snapshot-id','ref':'main','snapshot-id':null},"
        "{'type':'assert-last-assigned-field-id','last-assigned-field-id':11}]",
        "[{'action':'add-snapshot','snapshot':{'snapshot-id':1,'sequence-number':1,'timestamp-ms':5,"
        "'manifest-list':'s3://b/t/m.avro','summary':{'operation':'append'}}},"
        "{'action':'set-snapshot-ref','ref-name':'main','type':'branch','snapshot-id':1}]");
    assert_int_equal(geti(out, "current-snapshot-id"), 1);
    assert_int_equal(geti(out, "last-sequence-number"), 1);
    json_object_put(out);
    json_object_put(t);
    json_object_put(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_fixtures_validate_and_round_trip),
        cmocka_unit_test(test_64bit_snapshot_ids_exact),
        cmocka_unit_test(test_invalid_fixtures_rejected),
        cmocka_unit_test(test_validate_semantic_errors),
        cmocka_unit_test(test_create_assigns_fresh_ids),
        cmocka_unit_test(test_create_unpartitioned_unsorted_and_versions),
        cmocka_unit_test(test_create_rejects_bad_requests),
        cmocka_unit_test(test_requirements_pass_and_fail),
        cmocka_unit_test(test_assign_uuid_and_format_version),
        cmocka_unit_test(test_add_schema_and_set_current),
        cmocka_unit_test(test_add_spec_and_default),
        cmocka_unit_test(test_add_sort_order_and_default),
        cmocka_unit_test(test_add_snapshot_and_main_ref),
        cmocka_unit_test(test_v3_row_lineage),
        cmocka_unit_test(test_refs_branches_tags),
        cmocka_unit_test(test_remove_snapshots),
        cmocka_unit_test(test_location_and_properties),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_remove_specs_and_schemas),
        cmocka_unit_test(test_encryption_keys),
        cmocka_unit_test(test_unknown_and_malformed_updates),
        cmocka_unit_test(test_metadata_log_and_timestamps),
        cmocka_unit_test(test_inputs_not_modified),
        cmocka_unit_test(test_staged_create_commit),
        cmocka_unit_test(test_only_ref_snapshots),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_more_validation_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
