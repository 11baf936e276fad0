/* fuzz_tablemeta — libFuzzer driver for tablemeta and viewmeta.  Not part of the default build.
 *
 * Built and run by `make fuzz` (FUZZ_SECONDS each); seeds in tests/fuzz/corpus/fuzz_tablemeta/ (metadata
 * documents, commits {"current","requirements","updates"}, create requests, a staged create).  The unit-test
 * fixtures make good extra seeds; name a scratch folder first, since libFuzzer writes new inputs into the
 * first one: build-fuzz/fuzz/fuzz_tablemeta build-fuzz/corpus/fuzz_tablemeta tests/unit/fixtures
 *
 * One input is one JSON document.  It is fed to every entry point as whatever it could be (a metadata
 * document, a create request, a commit {"current","requirements","updates"}), and the driver checks the
 * module's promises, not just "no crash":
 *   - whatever create/commit return validates and survives serialize -> parse unchanged;
 *   - a document that validates commits with no updates;
 *   - failures always come with an error code and message; inputs are never modified. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceberg/tablemeta.h"
#include "iceberg/viewmeta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_tablemeta: broken promise: %s\n", what);
        abort();
    }
}

static void check_failure(int rc, const ig_error_t *err, json_object *out)
{
    if (rc == 0) return;
    must(rc == -1, "return code is 0 or -1");
    must(out == NULL, "no output on failure");
    must(ig_error_status(err) >= 400 && ig_error_status(err) < 600 && err->message[0] && err->kind != IG_E_NONE, "error filled on failure");
}

static void check_output(json_object *out, int view)
{
    ig_error_t err;
    if (!out) return;
    must((view ? ig_viewmeta_validate(out, &err) : ig_tablemeta_validate(out, &err)) == 0,
         "output validates");
    json_object *back = json_tokener_parse(ig_tablemeta_to_string(out));
    must(back && json_object_equal(out, back), "output round-trips");
    json_object_put(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_tokener *tok = json_tokener_new_ex(128); /* deeper than the module's cap, so the cap is exercised */
    if (!tok) return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* as the HTTP layer parses request bodies */
    json_object *in = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 1 << 20 ? 1 << 20 : size));
    json_tokener_free(tok);
    if (!in) return 0;
    json_object *snapshot_of_in = NULL;
    json_object_deep_copy(in, &snapshot_of_in, NULL);

    ig_error_t err;
    json_object *out = NULL;
    int rc;

    /* as metadata documents */
    rc = ig_tablemeta_validate(in, &err);
    if (rc == 0) {
        json_object *none = json_object_new_array();
        int crc = ig_tablemeta_commit(in, "s3://prev.json", NULL, none, 1, &out, &err);
        must(crc == 0, "a valid document commits with no updates");
        check_output(out, 0);
        json_object_put(out);
        out = NULL;
        json_object_put(none);
    } else {
        check_failure(rc, &err, NULL);
    }
    rc = ig_viewmeta_validate(in, &err);
    check_failure(rc, &err, NULL);
    json_object_put(ig_tablemeta_only_ref_snapshots(in));

    /* as create requests */
    rc = ig_tablemeta_create(in, "s3://b/t", "uuid", 1, &out, &err);
    check_failure(rc, &err, out);
    check_output(out, 0);
    json_object_put(out);
    out = NULL;
    rc = ig_viewmeta_create(in, "s3://b/v", "uuid", 1, &out, &err);
    check_failure(rc, &err, out);
    check_output(out, 1);
    json_object_put(out);
    out = NULL;

    /* as a commit: {"current": ..., "requirements": [...], "updates": [...]} */
    json_object *cur = NULL, *reqs = NULL, *ups = NULL;
    json_object_object_get_ex(in, "current", &cur);
    json_object_object_get_ex(in, "requirements", &reqs);
    json_object_object_get_ex(in, "updates", &ups);
    rc = ig_tablemeta_commit(cur, "s3://prev.json", reqs, ups, 2, &out, &err);
    check_failure(rc, &err, out);
    check_output(out, 0);
    json_object_put(out);
    out = NULL;
    rc = ig_viewmeta_commit(cur, reqs, ups, 2, &out, &err);
    check_failure(rc, &err, out);
    check_output(out, 1);
    json_object_put(out);

    /* Compared as text: json_object_equal() says NaN != NaN, which json-c accepts even in strict mode. */
    char *before = strdup(ig_tablemeta_to_string(snapshot_of_in));
    must(before && strcmp(before, ig_tablemeta_to_string(in)) == 0, "input not modified");
    free(before);
    json_object_put(snapshot_of_in);
    json_object_put(in);
    return 0;
}
