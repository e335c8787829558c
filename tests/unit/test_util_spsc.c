/*
 * test_util_spsc.c - the one-producer one-consumer record queue: order,
 * contents, wrap-around, records too big, waiting on both sides, close.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/err.h"
#include "netsift/spsc.h"

/* Record n: (n * 37) % 700 bytes, byte i = (n + i) & 0xff. */
static size_t rec_len(uint32_t n)
{
    return (size_t)(n * 37u) % 700u;
}

static void rec_fill(uint8_t *b, uint32_t n)
{
    size_t len = rec_len(n);
    for (size_t i = 0; i < len; i++) {
        b[i] = (uint8_t)(n + i);
    }
}

static int rec_check(const uint8_t *b, size_t len, uint32_t n)
{
    if (len != rec_len(n)) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (b[i] != (uint8_t)(n + i)) {
            return -1;
        }
    }
    return 0;
}

static void put(struct ns_spsc *q, uint32_t n)
{
    uint8_t *b = ns_spsc_reserve(q, sizeof(n) + rec_len(n));
    assert_non_null(b);
    memcpy(b, &n, sizeof(n));
    rec_fill(b + sizeof(n), n);
    ns_spsc_commit(q);
}

static uint32_t take(struct ns_spsc *q)
{
    size_t len = 0;
    const uint8_t *b = ns_spsc_next(q, &len);
    assert_non_null(b);
    uint32_t n;
    memcpy(&n, b, sizeof(n));
    assert_int_equal(rec_check(b + sizeof(n), len - sizeof(n), n), 0);
    ns_spsc_release(q);
    return n;
}

static void test_one_thread(void **state)
{
    (void)state;
    struct ns_spsc *q = NULL;
    assert_int_equal(ns_spsc_new(&q, 0, 0), NS_EINVAL);
    assert_int_equal(ns_spsc_new(&q, 100, 0), 0); /* rounded up to 4 KiB */
    assert_int_equal(ns_spsc_max_record(q), 4096 / 4 - 8);
    assert_null(ns_spsc_reserve(q, 4096 / 4 - 7));
    /* many times round the ring, a few records at a time: every wrap point is crossed */
    uint32_t next_in = 0;
    uint32_t next_out = 0;
    for (int round = 0; round < 2000; round++) {
        int k = 1 + round % 3;
        for (int i = 0; i < k; i++) {
            put(q, next_in++);
        }
        ns_spsc_publish(q);
        assert_true(ns_spsc_pending(q));
        for (int i = 0; i < k; i++) {
            assert_int_equal(take(q), next_out++);
        }
        assert_false(ns_spsc_pending(q));
    }
    /* an empty record, then close: the rest comes out, then NULL */
    assert_non_null(ns_spsc_reserve(q, 0));
    ns_spsc_commit(q);
    ns_spsc_close(q);
    size_t len = 99;
    assert_non_null(ns_spsc_next(q, &len));
    assert_int_equal(len, 0);
    ns_spsc_release(q);
    assert_null(ns_spsc_next(q, &len));
    struct ns_spsc_stats st;
    ns_spsc_get_stats(q, &st);
    assert_int_equal(st.records, next_in + 1);
    assert_int_equal(st.producer_waits, 0);
    ns_spsc_free(q);
}

struct consumer {
    struct ns_spsc *q;
    _Atomic uint32_t taken;
    int bad;
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    size_t len;
    const uint8_t *b;
    uint32_t want = 0;
    while ((b = ns_spsc_next(c->q, &len)) != NULL) {
        uint32_t n;
        memcpy(&n, b, sizeof(n));
        if (n != want || rec_check(b + sizeof(n), len - sizeof(n), n) != 0) {
            c->bad++;
        }
        want++;
        atomic_store(&c->taken, want); /* before its room goes back: see wait_empty below */
        ns_spsc_release(c->q);
    }
    return NULL;
}

/* A small ring between two threads: the producer waits for room, the consumer for records. */
static void test_two_threads(void **state)
{
    (void)state;
    struct consumer c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(ns_spsc_new(&c.q, 4096, 512), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consume, &c), 0);
    const uint32_t total = 200000;
    for (uint32_t n = 0; n < total; n++) {
        put(c.q, n);
        if (n % 50000 == 49999) {
            /* wait_empty: every record so far has been taken and released */
            ns_spsc_wait_empty(c.q);
            assert_int_equal(atomic_load(&c.taken), n + 1);
        }
    }
    ns_spsc_close(c.q);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(atomic_load(&c.taken), total);
    struct ns_spsc_stats st;
    ns_spsc_get_stats(c.q, &st);
    assert_int_equal(st.records, total);
    ns_spsc_free(c.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_thread),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
