/* verify_bench — ns per token verification on the request path: format + checksum check, SHA-256, lookup in
 * the in-memory table (with N other tokens loaded), status and expiry check, inside a read section.
 * Also the same plus a GCRA take (a limited token).  Prints the median of 7 runs of 1,000,000 iterations.
 * Usage: build/bench/verify_bench [DATA_DIR]   (make build/bench/verify_bench)
 *   With DATA_DIR (e.g. the million-token dir bench/tokens_1m.sh builds, kept with BENCH_KEEP=1) its tokens are
 *   loaded first, so lookups miss the cache as they would in a big deployment; without it, 1000 tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit/gcra.h"
#include "store/store.h"
#include "access/token.h"
#include "access/token_table.h"
#include "core/util.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The tokens are made as the operator would make them (the CLI acts as an admin). */
static const ig_principal_t bench_admin = {.ok = true, .role = IG_ROLE_ADMIN, .user = "bench"};

static volatile int sink;

static double run(ig_token_table_t *ts, const char *tok, int take, long iters)
{
    size_t len = strlen(tok);
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (ig_token_check(tok, len) != IG_TOKEN_OK) abort();
        uint8_t h[32];
        ig_token_hash(tok, len, h);
        ig_token_table_read_begin();
        const ig_token_entry_t *m = ig_token_table_find(ts, h);
        int ok = m && !m->suspended && (m->expires_at_ms == 0 || m->expires_at_ms > 1700000000000);
        if (ok && take && m->limited) {
            ig_gcra_result_t g;
            ig_gcra_take(&m->state->cell, &m->params, now_ns(), &g);
            ok = g.allowed || 1;
        }
        ig_token_table_read_end();
        sink += ok;
    }
    return (double)(now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    long others = argc > 1 ? 0 : 1000;
    char dir[] = "/tmp/verify-bench-XXXXXX", path[1100];
    if (argc > 1) snprintf(path, sizeof path, "%s/icegate.db", argv[1]);
    else if (!mkdtemp(dir)) return 1;
    else snprintf(path, sizeof path, "%s/icegate.db", dir);
    ig_error_t err;
    ig_store_t *st = ig_store_sqlite_open(path, &err);
    if (!st) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    ig_token_table_t *ts = ig_token_table_new(st, true, true);
    if (ig_token_table_load(ts, &err)) return 1;
    ig_token_spec_t spec = {.has_name = true};
    char secret[IG_TOKEN_LEN + 1], limited[IG_TOKEN_LEN + 1];
    ig_token_row_t rec;
    snprintf(spec.name, sizeof spec.name, "bench");
    snprintf(spec.name + 5, sizeof spec.name - 5, "-%d", (int)getpid());
    if (ig_token_table_create(ts, &bench_admin, "admin", &spec, secret, &rec, &err)) return 1;
    char first_id[IG_ID_MAX];
    memcpy(first_id, rec.id, sizeof first_id);
    snprintf(spec.name, sizeof spec.name, "bench-limited-%d", (int)getpid());
    spec.has_max_rps = true;
    spec.max_rps = 1e6;
    if (ig_token_table_create(ts, &bench_admin, "admin", &spec, limited, &rec, &err)) return 1;
    /* Other tokens go straight into memory through the store's change feed, as a big deployment would. */
    spec.max_rps = 0;
    for (long i = 0; i < others; i++) {
        char s2[IG_TOKEN_LEN + 1];
        snprintf(spec.name, sizeof spec.name, "other-%ld", i);
        if (i % 10000 == 0) fprintf(stderr, "\rloading %ld/%ld", i, others);
        if (ig_token_table_create(ts, &bench_admin, "admin", &spec, s2, &rec, &err)) return 1;
    }
    fprintf(stderr, "\r%zu tokens in the table          \n", ig_token_table_count(ts));
    const long iters = 1000000;
    double a[7], b[7];
    for (int r = 0; r < 7; r++) {
        a[r] = run(ts, secret, 0, iters);
        b[r] = run(ts, limited, 1, iters);
    }
    qsort(a, 7, sizeof a[0], cmp);
    qsort(b, 7, sizeof b[0], cmp);
    printf("verify (check + sha256 + lookup + status/expiry): median %.0f ns/op (min %.0f, max %.0f)\n", a[3], a[0],
           a[6]);
    printf("verify + GCRA take (limited token):               median %.0f ns/op (min %.0f, max %.0f)\n", b[3], b[0],
           b[6]);
    ig_token_table_delete(ts, rec.id, &err);
    ig_token_table_delete(ts, first_id, &err);
    ig_token_table_free(ts);
    ig_store_close(st);
    if (argc > 1) return 0;
    unlink(path);
    char wal[1200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    rmdir(dir);
    return 0;
}
