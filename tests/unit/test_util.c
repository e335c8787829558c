/*
 * test_util.c - the bounds-checked reader (rd.h), error codes (err.h), the
 * failable allocator and its big blocks (alloc.h), and block pools (pool.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/ilist.h"
#include "netsift/pool.h"
#include "netsift/rd.h"

static void test_rd_reads_in_order(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x01,                   /* u8 */
        0x02, 0x03,             /* be16 0x0203 */
        0x04, 0x05, 0x06,       /* be24 0x040506 */
        0x07, 0x08, 0x09, 0x0a, /* be32 0x0708090a */
        0x0b, 0x0c,             /* le16 0x0c0b */
        0x0d, 0x0e, 0x0f, 0x10, /* le32 0x100f0e0d */
    };
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 100);
    assert_int_equal(ns_rd_u8(&r), 0x01);
    assert_int_equal(ns_rd_be16(&r), 0x0203);
    assert_int_equal(ns_rd_be24(&r), 0x040506);
    assert_int_equal(ns_rd_be32(&r), 0x0708090a);
    assert_int_equal(ns_rd_le16(&r), 0x0c0b);
    assert_int_equal(ns_rd_offset(&r), 112);
    assert_int_equal(ns_rd_le32(&r), 0x100f0e0d);
    assert_true(ns_rd_ok(&r));
    assert_int_equal(ns_rd_left(&r), 0);
}

static void test_rd_64bit(void **state)
{
    (void)state;
    static const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 0);
    assert_true(ns_rd_be64(&r) == 0x0102030405060708ULL);
    assert_true(ns_rd_le64(&r) == 0x0807060504030201ULL);
    assert_true(ns_rd_ok(&r));
}

static void test_rd_short_read_is_sticky(void **state)
{
    (void)state;
    static const uint8_t b[] = {0xaa, 0xbb, 0xcc};
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 0);
    assert_int_equal(ns_rd_u8(&r), 0xaa);
    /* 4 bytes wanted, 2 left: TRUNC, returns 0, cursor unchanged */
    assert_int_equal(ns_rd_be32(&r), 0);
    assert_int_equal(r.status, NS_RD_TRUNC);
    assert_int_equal(r.pos, 1);
    /* every later read is a no-op, even one that would fit */
    assert_int_equal(ns_rd_u8(&r), 0);
    assert_int_equal(r.pos, 1);
    assert_int_equal(ns_rd_left(&r), 0);
    assert_null(ns_rd_bytes(&r, 1));
    assert_false(ns_rd_skip(&r, 0 + 1));
}

static void test_rd_huge_lengths_do_not_wrap(void **state)
{
    (void)state;
    static const uint8_t b[] = {1, 2, 3, 4};
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 0);
    ns_rd_u8(&r);
    assert_false(ns_rd_skip(&r, SIZE_MAX));
    assert_int_equal(r.status, NS_RD_TRUNC);
    ns_rd_init(&r, b, sizeof(b), 0);
    assert_null(ns_rd_bytes(&r, SIZE_MAX - 1));
    ns_rd_init(&r, b, sizeof(b), 0);
    struct ns_rd c = ns_rd_sub(&r, SIZE_MAX);
    assert_int_equal(c.status, NS_RD_TRUNC);
    assert_int_equal(ns_rd_left(&c), 0);
}

static void test_rd_sub_windows(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x03,       /* declared length 3 */
        0x11, 0x22, 0x33, /* the 3 bytes */
        0x44,             /* after */
    };
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 10);
    uint16_t n = ns_rd_be16(&r);
    struct ns_rd c = ns_rd_sub(&r, n);
    assert_true(ns_rd_ok(&c));
    assert_int_equal(c.off, 12);
    assert_int_equal(ns_rd_left(&c), 3);
    assert_int_equal(ns_rd_be24(&c), 0x112233);
    /* the child ends exactly at its declared length */
    assert_int_equal(ns_rd_u8(&c), 0);
    assert_int_equal(c.status, NS_RD_TRUNC);
    /* the parent went past it and is still fine */
    assert_true(ns_rd_ok(&r));
    assert_int_equal(ns_rd_u8(&r), 0x44);
    /* a declared length past the data: parent TRUNC, child empty and TRUNC */
    ns_rd_init(&r, b, sizeof(b), 0);
    ns_rd_skip(&r, 2);
    c = ns_rd_sub(&r, 5);
    assert_int_equal(r.status, NS_RD_TRUNC);
    assert_int_equal(c.status, NS_RD_TRUNC);
}

static void test_rd_invalid_wins(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x45};
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 0);
    ns_rd_be16(&r);
    assert_int_equal(r.status, NS_RD_TRUNC);
    ns_rd_invalid(&r, 7);
    assert_int_equal(r.status, NS_RD_INVALID);
    assert_int_equal(r.reason, 7);
    ns_rd_invalid(&r, 9); /* the first reason is kept */
    assert_int_equal(r.reason, 7);
    ns_rd_trunc(&r);
    assert_int_equal(r.status, NS_RD_INVALID);
}

static void test_rd_copy_and_null(void **state)
{
    (void)state;
    static const uint8_t b[] = {9, 8, 7};
    uint8_t out[3] = {0, 0, 0};
    struct ns_rd r;
    ns_rd_init(&r, b, sizeof(b), 0);
    assert_false(ns_rd_copy(&r, out, 4));
    assert_int_equal(out[0], 0);
    ns_rd_init(&r, b, sizeof(b), 0);
    assert_true(ns_rd_copy(&r, out, 3));
    assert_memory_equal(out, b, 3);
    ns_rd_init(&r, NULL, 100, 0);
    assert_int_equal(ns_rd_left(&r), 0);
    assert_int_equal(ns_rd_u8(&r), 0);
    assert_int_equal(r.status, NS_RD_TRUNC);
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(ns_strerror(NS_ETRUNC), "truncated");
    assert_string_equal(ns_errname(NS_ELIMIT), "NS_ELIMIT");
    assert_string_equal(ns_errname(0), "NS_OK");
    assert_string_equal(ns_strerror(-1000), "unknown error");
    assert_int_equal(NS_EAGAIN, -1);
    assert_int_equal(NS_EOF, -9);
    struct ns_error e;
    assert_int_equal(ns_error_set(&e, NS_EIO, "%s: bad magic at offset %d", "a.pcap", 0), NS_EIO);
    assert_int_equal(e.code, NS_EIO);
    assert_string_equal(e.msg, "a.pcap: bad magic at offset 0");
    assert_int_equal(ns_error_set(NULL, NS_EINVAL, "x"), NS_EINVAL);
    ns_error_clear(&e);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.msg, "");
}

static void test_alloc_failure_injection(void **state)
{
    (void)state;
    ns_alloc_fail_at(2);
    void *a = ns_malloc(10);
    void *b = ns_malloc(10);
    void *c = ns_malloc(10);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    ns_free(a);
    ns_free(c);
    ns_alloc_fail_at(0);
    /* overflowing multiplications fail instead of wrapping */
    assert_null(ns_reallocarray(NULL, SIZE_MAX / 2, 4));
    char *s = ns_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    ns_free(s);
    ns_free(NULL);
}

/* Every byte of b[0, n) is v. */
static bool bytes_are(const uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] != v) {
            return false;
        }
    }
    return true;
}

static void test_big_alloc(void **state)
{
    (void)state;
    /* one size under NS_BIG_MIN (a heap block), others over it (a mapping) */
    const size_t sizes[] = {1000, NS_BIG_MIN, NS_BIG_MIN * 3 + 5};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint8_t *b = ns_big_alloc(n);
        assert_non_null(b);
        assert_true(bytes_are(b, n, 0));
        memset(b, 0xab, n);
        /* grow: the old bytes kept, the new ones zero */
        uint8_t *g = ns_big_realloc(b, n, 2 * n + 7);
        assert_non_null(g);
        assert_true(bytes_are(g, n, 0xab));
        assert_true(bytes_are(g + n, n + 7, 0));
        /* shrink, then grow back within the same block: what was cut is zero again */
        g = ns_big_realloc(g, 2 * n + 7, n / 2);
        assert_non_null(g);
        assert_true(bytes_are(g, n / 2, 0xab));
        g = ns_big_realloc(g, n / 2, n);
        assert_non_null(g);
        assert_true(bytes_are(g, n / 2, 0xab));
        assert_true(bytes_are(g + n / 2, n - n / 2, 0));
        ns_big_free(g, n);
    }
    /* failures leave the block alone */
    uint8_t *b = ns_big_alloc(NS_BIG_MIN);
    assert_non_null(b);
    b[0] = 7;
    ns_alloc_fail_at(1);
    assert_null(ns_big_realloc(b, NS_BIG_MIN, 4 * NS_BIG_MIN));
    assert_int_equal(b[0], 7);
    ns_alloc_fail_at(1);
    assert_null(ns_big_alloc(4 * NS_BIG_MIN));
    ns_alloc_fail_at(0);
    assert_null(ns_big_alloc(SIZE_MAX - 10));
    ns_big_free(b, NS_BIG_MIN);
    ns_big_free(NULL, NS_BIG_MIN);
}

static void test_pool_reuse(void **state)
{
    (void)state;
    struct ns_pool p;
    ns_pool_init(&p, 40);
    assert_int_equal(p.size, 48); /* rounded up to 16 */
    enum { N = 5000 };            /* several chunks: 64 KiB, 128 KiB, ... */
    static uint8_t *b[N];
    for (size_t i = 0; i < N; i++) {
        b[i] = ns_pool_get(&p);
        assert_non_null(b[i]);
        assert_int_equal((uintptr_t)b[i] % 16, 0);
        assert_true(bytes_are(b[i], 40, 0));
        memset(b[i], (int)(i & 0xff), 48);
    }
    /* blocks do not overlap: each still holds its own pattern */
    for (size_t i = 0; i < N; i++) {
        assert_true(bytes_are(b[i], 48, (uint8_t)(i & 0xff)));
    }
    /* given back, they come out again (last in, first out) and zero-filled */
    ns_pool_put(&p, b[10]);
    ns_pool_put(&p, b[20]);
    ns_pool_put(&p, NULL);
    uint8_t *x = ns_pool_get(&p);
    uint8_t *y = ns_pool_get(&p);
    assert_ptr_equal(x, b[20]);
    assert_ptr_equal(y, b[10]);
    assert_true(bytes_are(x, 48, 0));
    assert_true(bytes_are(y, 48, 0));
    ns_pool_release(&p);
    /* a released pool starts again */
    x = ns_pool_get(&p);
    assert_non_null(x);
    ns_pool_release(&p);

    /* a block bigger than the first chunk gets chunks that fit it */
    ns_pool_init(&p, 100000);
    x = ns_pool_get(&p);
    y = ns_pool_get(&p);
    assert_non_null(x);
    assert_non_null(y);
    memset(x, 1, 100000);
    memset(y, 2, 100000);
    assert_true(bytes_are(x, 100000, 1));
    ns_pool_release(&p);

    /* out of memory: NULL, and the pool still works after */
    ns_pool_init(&p, 64);
    ns_alloc_fail_at(1);
    assert_null(ns_pool_get(&p));
    x = ns_pool_get(&p);
    assert_non_null(x);
    ns_pool_release(&p);
}

struct ilist_elem {
    int payload;
    struct ns_ilink lru;
};

/* Walk head to tail, checking the back links too; returns the indices as digits. */
static unsigned ilist_order(const struct ns_ilist *l, const struct ilist_elem *slab)
{
    unsigned digits = 0;
    uint32_t prev = NS_ILIST_NONE;
    for (uint32_t ix = l->head; ix != NS_ILIST_NONE; ix = slab[ix].lru.next) {
        assert_int_equal(slab[ix].lru.prev, prev);
        digits = digits * 10 + ix;
        prev = ix;
    }
    assert_int_equal(l->tail, prev);
    return digits;
}

static void test_ilist_push_unlink(void **state)
{
    (void)state;
    struct ilist_elem slab[4];
    struct ns_ilist l;
    ns_ilist_init(&l);
    assert_int_equal(ilist_order(&l, slab), 0);
    for (uint32_t i = 1; i <= 3; i++) {
        NS_ILIST_PUSH_HEAD(&l, slab, i, lru);
    }
    assert_int_equal(ilist_order(&l, slab), 321);
    NS_ILIST_UNLINK(&l, slab, 2, lru); /* middle */
    assert_int_equal(ilist_order(&l, slab), 31);
    assert_int_equal(slab[2].lru.prev, NS_ILIST_NONE);
    assert_int_equal(slab[2].lru.next, NS_ILIST_NONE);
    NS_ILIST_UNLINK(&l, slab, 1, lru); /* tail */
    assert_int_equal(ilist_order(&l, slab), 3);
    NS_ILIST_PUSH_HEAD(&l, slab, 2, lru);
    NS_ILIST_UNLINK(&l, slab, 2, lru); /* head */
    assert_int_equal(ilist_order(&l, slab), 3);
    NS_ILIST_UNLINK(&l, slab, 3, lru); /* the last one */
    assert_int_equal(l.head, NS_ILIST_NONE);
    assert_int_equal(l.tail, NS_ILIST_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rd_reads_in_order),
        cmocka_unit_test(test_rd_64bit),
        cmocka_unit_test(test_rd_short_read_is_sticky),
        cmocka_unit_test(test_rd_huge_lengths_do_not_wrap),
        cmocka_unit_test(test_rd_sub_windows),
        cmocka_unit_test(test_rd_invalid_wins),
        cmocka_unit_test(test_rd_copy_and_null),
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_alloc_failure_injection),
        cmocka_unit_test(test_big_alloc),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_ilist_push_unlink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
