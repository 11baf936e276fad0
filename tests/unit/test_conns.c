/* test_conns — the connection deadline table (http/conns.c) on socket pairs and an injected clock: which
 * connection a sweep cuts at which phase, that a cut is a shutdown the peer sees as end-of-file, that a slot
 * given back is reused; and the RLIMIT_NOFILE fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/conns.h"

#define S INT64_C(1000000000)
#define UPTIME (INT64_C(5000000) * S)
#define IDLE (2 * S)
#define REQUEST (3 * S)

/* True when the peer of a cut connection sees end-of-file (read returns 0), not just silence. */
static bool peer_sees_eof(int peer)
{
    char ch;
    return read(peer, &ch, 1) == 0;
}

static bool peer_open(int peer)
{
    char ch;
    ssize_t n = read(peer, &ch, 1);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

typedef struct {
    int fd, peer;
} pair_t;

static pair_t pair(void)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    return (pair_t){sv[0], sv[1]};
}

static void test_deadline_per_phase(void **state)
{
    (void)state;
    ig_conns_t *t = ig_conns_new(8, IDLE, REQUEST, false);
    assert_non_null(t);
    pair_t waiting = pair(), headers = pair(), body = pair(), busy = pair();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002)};
    ig_conn_t *w = ig_conns_open(t, waiting.fd, (struct sockaddr *)&a, UPTIME);
    ig_conn_t *h = ig_conns_open(t, headers.fd, NULL, UPTIME);
    ig_conn_t *b = ig_conns_open(t, body.fd, NULL, UPTIME);
    ig_conn_t *k = ig_conns_open(t, busy.fd, NULL, UPTIME);
    assert_true(w && h && b && k);
    ig_conns_set(t, h, IG_CONN_HEADERS, UPTIME + 1 * S);
    ig_conns_set(t, b, IG_CONN_BODY, UPTIME + 2 * S);
    ig_conns_set(t, k, IG_CONN_BUSY, UPTIME);

    assert_int_equal(ig_conns_sweep(t, UPTIME + 4 * S - 1), 0); /* the headers are due at 1 + 3 s */
    assert_int_equal(ig_conns_sweep(t, UPTIME + 4 * S), 1);
    assert_true(peer_sees_eof(headers.peer));
    assert_true(peer_open(waiting.peer) && peer_open(body.peer) && peer_open(busy.peer));
    assert_int_equal(ig_conns_sweep(t, UPTIME + 5 * S), 2); /* the body (2 + 3 s), waiting (idle 2 + 3 s) */
    assert_true(peer_sees_eof(body.peer) && peer_sees_eof(waiting.peer));
    assert_int_equal(ig_conns_sweep(t, UPTIME + 3600 * S), 0); /* busy: never; the cut ones: once */
    assert_true(peer_open(busy.peer));
    assert_int_equal((int)ig_conns_cut_total(t), 3);

    ig_conns_close(t, w);
    ig_conns_close(t, h);
    ig_conns_close(t, b);
    ig_conns_close(t, k);
    ig_conns_free(t);
    pair_t all[] = {waiting, headers, body, busy};
    for (int i = 0; i < 4; i++) close(all[i].fd), close(all[i].peer);
}

/* A request served and a new one begun moves the deadline on: a keep-alive connection is never cut for its age. */
static void test_deadline_moves_with_each_request(void **state)
{
    (void)state;
    ig_conns_t *t = ig_conns_new(2, IDLE, REQUEST, false);
    pair_t p = pair();
    ig_conn_t *c = ig_conns_open(t, p.fd, NULL, UPTIME);
    for (int i = 1; i <= 10; i++) {
        int64_t now = UPTIME + i * 4 * S; /* 40 s of requests, each 4 s after the last */
        ig_conns_set(t, c, IG_CONN_HEADERS, now);
        ig_conns_set(t, c, IG_CONN_BUSY, now);
        ig_conns_set(t, c, IG_CONN_WAITING, now);
        assert_int_equal(ig_conns_sweep(t, now + 1 * S), 0);
    }
    assert_true(peer_open(p.peer));
    ig_conns_close(t, c);
    ig_conns_free(t);
    close(p.fd);
    close(p.peer);
}

/* A full table answers NULL (that connection has no deadline); a slot given back is used again and a closed
 * slot is never swept (its fd may belong to someone else by then). */
static void test_full_and_reuse(void **state)
{
    (void)state;
    ig_conns_t *t = ig_conns_new(2, IDLE, REQUEST, false);
    pair_t p1 = pair(), p2 = pair(), p3 = pair();
    ig_conn_t *a = ig_conns_open(t, p1.fd, NULL, UPTIME);
    ig_conn_t *b = ig_conns_open(t, p2.fd, NULL, UPTIME);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(ig_conns_open(t, p3.fd, NULL, UPTIME));
    ig_conns_set(t, NULL, IG_CONN_HEADERS, UPTIME); /* no slot: a no-op */
    ig_conns_close(t, a);
    assert_int_equal(ig_conns_sweep(t, UPTIME + 3600 * S), 1); /* b only */
    assert_true(peer_open(p1.peer));
    ig_conn_t *c = ig_conns_open(t, p3.fd, NULL, UPTIME);
    assert_ptr_equal(c, a);
    ig_conns_close(t, b);
    ig_conns_close(t, c);
    ig_conns_close(t, NULL);
    ig_conns_free(t);
    ig_conns_free(NULL);
    pair_t all[] = {p1, p2, p3};
    for (int i = 0; i < 3; i++) close(all[i].fd), close(all[i].peer);
}

/* The sweeper thread itself: a connection past its deadline is cut within a sweep or two, on the real clock. */
static void test_sweeper_thread(void **state)
{
    (void)state;
    ig_conns_t *t = ig_conns_new(4, IDLE, 0, true); /* request timeout 0: due at once after its request line */
    assert_non_null(t);
    pair_t p = pair();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ig_conn_t *c = ig_conns_open(t, p.fd, NULL, (int64_t)ts.tv_sec * S + ts.tv_nsec);
    ig_conns_set(t, c, IG_CONN_HEADERS, (int64_t)ts.tv_sec * S + ts.tv_nsec);
    fcntl(p.peer, F_SETFL, 0); /* blocking: read waits for the sweeper's shutdown */
    assert_true(peer_sees_eof(p.peer));
    assert_int_equal((int)ig_conns_cut_total(t), 1);
    ig_conns_close(t, c);
    ig_conns_free(t);
    close(p.fd);
    close(p.peer);
}

/* The soft limit is raised to fit; past what can be had, the connections that fit are fewer. */
static void test_fd_limit(void **state)
{
    (void)state;
    struct rlimit saved, rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 2048) skip();
    rl.rlim_cur = 256;
    rl.rlim_max = saved.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    long limit = 0;
    assert_int_equal(ig_conns_fit_fd_limit(1000, 100, &limit), 1000);
    assert_true(limit >= 1100);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(rl.rlim_cur >= 1100);
    assert_int_equal(ig_conns_fit_fd_limit(16, 100, &limit), 16); /* already fits: left as it is */

    /* More than the kernel allows any process (fs.nr_open): only the hard limit can be had. */
    long nr_open = 1048576;
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (f) {
        if (fscanf(f, "%ld", &nr_open) != 1) nr_open = 1048576;
        fclose(f);
    }
    rl.rlim_cur = 256;
    rl.rlim_max = 2048;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int fit = ig_conns_fit_fd_limit((int)nr_open, 100, &limit);
    assert_int_equal(limit, 2048);
    assert_int_equal(fit, 2048 - 100);
    rl.rlim_cur = rl.rlim_max = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(ig_conns_fit_fd_limit((int)nr_open, 100, &limit), 1); /* never 0 or less */
    setrlimit(RLIMIT_NOFILE, &saved); /* as root; otherwise the lowered hard limit stays, harmless here */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_per_phase),
        cmocka_unit_test(test_deadline_moves_with_each_request),
        cmocka_unit_test(test_full_and_reuse),
        cmocka_unit_test(test_sweeper_thread),
        cmocka_unit_test(test_fd_limit),
    };
    return cmocka_run_group_tests_name("conns", tests, NULL, NULL);
}
