/*
 * test_defrag.c - IPv4 / IPv6 fragment reassembly (defrag.h): every arrival
 * order, duplicates, overlaps under the "first wins" policy, RFC 5722 for
 * IPv6, timeouts, both caps, inconsistent fragments, the frame accounting of
 * a result, interleaved datagrams, and a run that fails each allocation in
 * turn.
 *
 * The packets are built directly as struct ns_packet values, the way the
 * decoder leaves them for a fragment (RFC 791 section 3.2, RFC 8200 section
 * 4.5): frag_off in bytes, frag_more, frag_data / frag_len the bytes after the
 * IP header (IPv4) or after the Fragment header (IPv6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/defrag.h"
#include "netsift/err.h"

#define SEC 1000000000ull

/*
 * A UDP datagram of 37 bytes, sent as three fragments:
 *   A = [0, 16)  more     B = [16, 32)  more     C = [32, 37)  last
 */
static const uint8_t dgram[37] = {0x30, 0x39, /* source port 12345 */
                                  0x00, 0x35, /* destination port 53 */
                                  0x00, 0x25, /* length 37 */
                                  0x12, 0x34, /* checksum (defrag does not check it) */
                                  /* 29 bytes of data: "netsift reassembles this!!!!!" */
                                  'n', 'e', 't', 's', 'i', 'f', 't', ' ', 'r', 'e', 'a', 's', 's',
                                  'e', 'm', 'b', 'l', 'e', 's', ' ', 't', 'h', 'i', 's', '!', '!',
                                  '!', '!', '!'};

struct piece {
    uint32_t off;
    uint32_t len;
    bool more;
};

static const struct piece pieces[3] = {{0, 16, true}, {16, 16, true}, {32, 5, false}};

/* Ethernet (14) + IPv4 (20), and Ethernet + IPv6 (40) + Fragment header (8). */
#define WIRE_V4 34u
#define WIRE_V6 62u

static void frag_v4(struct ns_packet *p, uint32_t id, uint32_t off, const uint8_t *data,
                    uint32_t len, bool more, uint64_t ts)
{
    memset(p, 0, sizeof(*p));
    p->flags = NS_PKT_F_FRAGMENT;
    p->ipver = 4;
    p->src.family = 4;
    p->src.a[0] = 192; /* 192.0.2.1 */
    p->src.a[2] = 2;
    p->src.a[3] = 1;
    p->dst.family = 4;
    p->dst.a[0] = 198; /* 198.51.100.2 */
    p->dst.a[1] = 51;
    p->dst.a[2] = 100;
    p->dst.a[3] = 2;
    p->proto = 17;
    p->frag_id = id;
    p->frag_off = off;
    p->frag_more = more;
    p->frag_data = data;
    p->frag_len = len;
    p->ts_ns = ts;
    p->wirelen = WIRE_V4 + len;
    p->caplen = p->wirelen;
}

static void frag_v6(struct ns_packet *p, uint32_t id, uint32_t off, const uint8_t *data,
                    uint32_t len, bool more, uint64_t ts)
{
    frag_v4(p, id, off, data, len, more, ts);
    p->ipver = 6;
    memset(&p->src, 0, sizeof(p->src));
    memset(&p->dst, 0, sizeof(p->dst));
    p->src.family = 6;
    p->src.a[0] = 0x20; /* 2001:db8::1 */
    p->src.a[1] = 0x01;
    p->src.a[2] = 0x0d;
    p->src.a[3] = 0xb8;
    p->src.a[15] = 1;
    p->dst = p->src; /* 2001:db8::2 */
    p->dst.a[15] = 2;
    p->wirelen = WIRE_V6 + len;
    p->caplen = p->wirelen;
}

/* Piece i of `content` (37 bytes) as an IPv4 or IPv6 fragment. */
static void piece_pkt(struct ns_packet *p, int ipver, uint32_t id, const uint8_t *content, int i,
                      uint64_t ts)
{
    const struct piece *pc = &pieces[i];
    if (ipver == 6) {
        frag_v6(p, id, pc->off, content + pc->off, pc->len, pc->more, ts);
    } else {
        frag_v4(p, id, pc->off, content + pc->off, pc->len, pc->more, ts);
    }
}

static int add_piece(struct ns_defrag *d, int ipver, uint32_t id, const uint8_t *content, int i,
                     uint64_t ts, struct ns_defrag_result *res)
{
    struct ns_packet p;
    piece_pkt(&p, ipver, id, content, i, ts);
    return ns_defrag_add(d, &p, res);
}

static struct ns_defrag *new_defrag(uint64_t timeout_ns, size_t max_bytes, size_t max_datagrams)
{
    struct ns_defrag_opts o = {
        .timeout_ns = timeout_ns, .max_bytes = max_bytes, .max_datagrams = max_datagrams};
    struct ns_defrag *d = NULL;
    assert_int_equal(ns_defrag_new(&d, &o), 0);
    assert_non_null(d);
    return d;
}

static void test_defrag_ipv4_in_order(void **state)
{
    (void)state;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    struct ns_defrag_result res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(add_piece(d, 4, 0x1234, dgram, 0, 100, &res), NS_EAGAIN);
    assert_true(ns_defrag_bytes(d) > 0);
    assert_int_equal(add_piece(d, 4, 0x1234, dgram, 1, 200, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 0x1234, dgram, 2, 300, &res), 0);
    assert_int_equal(res.len, 37);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 3);
    assert_int_equal(res.wire_bytes, (WIRE_V4 + 16) + (WIRE_V4 + 16) + (WIRE_V4 + 5));
    assert_int_equal(res.first_ts_ns, 100);
    assert_int_equal(ns_defrag_bytes(d), 0);

    const struct ns_defrag_stats *st = ns_defrag_stats(d);
    assert_int_equal(st->fragments, 3);
    assert_int_equal(st->reassembled, 1);
    assert_int_equal(st->duplicates, 0);
    assert_int_equal(st->overlaps, 0);
    assert_int_equal(st->invalid, 0);
    ns_defrag_free(d);
}

/* All 6 orders of the three fragments, in-order and reversed among them. */
static void test_defrag_ipv4_every_order(void **state)
{
    (void)state;
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int o = 0; o < 6; o++) {
        struct ns_defrag *d = new_defrag(0, 0, 0);
        struct ns_defrag_result res;
        memset(&res, 0, sizeof(res));
        for (int k = 0; k < 3; k++) {
            int rc = add_piece(d, 4, 7, dgram, orders[o][k], 1000 + (uint64_t)k, &res);
            assert_int_equal(rc, k < 2 ? NS_EAGAIN : 0);
        }
        assert_int_equal(res.len, 37);
        assert_memory_equal(res.payload, dgram, 37);
        assert_int_equal(res.frames, 3);
        assert_int_equal(res.wire_bytes, 3 * WIRE_V4 + 37);
        assert_int_equal(res.first_ts_ns, 1000);
        assert_int_equal(ns_defrag_stats(d)->reassembled, 1);
        assert_int_equal(ns_defrag_bytes(d), 0);
        ns_defrag_free(d);
    }
}

static void test_defrag_ipv6_reversed(void **state)
{
    (void)state;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    struct ns_defrag_result res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(add_piece(d, 6, 0xdeadbeef, dgram, 2, 5, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 0xdeadbeef, dgram, 1, 6, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 0xdeadbeef, dgram, 0, 7, &res), 0);
    assert_int_equal(res.len, 37);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 3);
    assert_int_equal(res.wire_bytes, 3 * WIRE_V6 + 37);
    assert_int_equal(res.first_ts_ns, 5);
    ns_defrag_free(d);
}

static void test_defrag_duplicate(void **state)
{
    (void)state;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    struct ns_defrag_result res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 1, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 2, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 3, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 4, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    /* the duplicate frame belongs to the datagram: flows count it */
    assert_int_equal(res.frames, 4);
    assert_int_equal(res.wire_bytes, 4 * WIRE_V4 + 16 + 37);
    const struct ns_defrag_stats *st = ns_defrag_stats(d);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->overlaps, 0);
    assert_int_equal(st->overlaps_conflicting, 0);
    assert_int_equal(st->reassembled, 1);
    ns_defrag_free(d);
}

static void test_defrag_overlap_same_bytes(void **state)
{
    (void)state;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    struct ns_defrag_result res;
    struct ns_packet p;
    memset(&res, 0, sizeof(res));
    frag_v4(&p, 9, 0, dgram, 16, true, 1);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    /* [8, 32): bytes 8..15 held already (same values), 16..31 new */
    frag_v4(&p, 9, 8, dgram + 8, 24, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 9, 32, dgram + 32, 5, false, 3);
    assert_int_equal(ns_defrag_add(d, &p, &res), 0);
    assert_int_equal(res.len, 37);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 3);
    const struct ns_defrag_stats *st = ns_defrag_stats(d);
    assert_int_equal(st->overlaps, 1);
    assert_int_equal(st->overlaps_conflicting, 0);
    assert_int_equal(st->duplicates, 0);
    assert_int_equal(st->reassembled, 1);
    ns_defrag_free(d);
}

static void test_defrag_overlap_first_wins(void **state)
{
    (void)state;
    uint8_t ee[24];
    memset(ee, 0xee, sizeof(ee));
    struct ns_defrag_result res;
    struct ns_packet p;
    uint8_t want[37];

    /* held [0, 16) first, then [8, 32) of 0xee: only 16..31 are taken */
    struct ns_defrag *d = new_defrag(0, 0, 0);
    frag_v4(&p, 1, 0, dgram, 16, true, 1);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 1, 8, ee, 24, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 1, 32, dgram + 32, 5, false, 3);
    assert_int_equal(ns_defrag_add(d, &p, &res), 0);
    memcpy(want, dgram, 37);
    memset(want + 16, 0xee, 16);
    assert_int_equal(res.len, 37);
    assert_memory_equal(res.payload, want, 37);
    assert_int_equal(ns_defrag_stats(d)->overlaps, 1);
    assert_int_equal(ns_defrag_stats(d)->overlaps_conflicting, 1);
    ns_defrag_free(d);

    /* [8, 32) of 0xee first, then the original [0, 16): only 0..7 are taken */
    d = new_defrag(0, 0, 0);
    frag_v4(&p, 1, 8, ee, 24, true, 1);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 1, 0, dgram, 16, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 1, 32, dgram + 32, 5, false, 3);
    assert_int_equal(ns_defrag_add(d, &p, &res), 0);
    memcpy(want, dgram, 37);
    memset(want + 8, 0xee, 24);
    assert_memory_equal(res.payload, want, 37);
    assert_int_equal(ns_defrag_stats(d)->overlaps, 1);
    assert_int_equal(ns_defrag_stats(d)->overlaps_conflicting, 1);
    ns_defrag_free(d);

    /* a fragment wholly inside held bytes, with other values: nothing taken */
    d = new_defrag(0, 0, 0);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 1, &res), NS_EAGAIN);
    frag_v4(&p, 1, 8, ee, 8, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 3, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 4, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 4);
    assert_int_equal(ns_defrag_stats(d)->overlaps, 1);
    assert_int_equal(ns_defrag_stats(d)->overlaps_conflicting, 1);
    assert_int_equal(ns_defrag_stats(d)->duplicates, 0);
    ns_defrag_free(d);
}

/* Holes filled one by one, then a fragment spanning several held ranges. */
static void test_defrag_holes(void **state)
{
    (void)state;
    struct ns_defrag_result res;
    struct ns_packet p;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    frag_v4(&p, 3, 16, dgram + 16, 8, true, 1);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 3, 0, dgram, 8, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    frag_v4(&p, 3, 32, dgram + 32, 5, false, 3);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    /* [0, 32) fills the holes 8..15 and 24..31 and matches the rest */
    frag_v4(&p, 3, 0, dgram, 32, true, 4);
    assert_int_equal(ns_defrag_add(d, &p, &res), 0);
    assert_int_equal(res.len, 37);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 4);
    assert_int_equal(ns_defrag_stats(d)->overlaps, 1);
    assert_int_equal(ns_defrag_stats(d)->overlaps_conflicting, 0);

    /* five 8-byte holes filled out of order: 24, 8, 32 (last), 0, 16 */
    static const uint32_t offs[5] = {24, 8, 32, 0, 16};
    for (int i = 0; i < 5; i++) {
        uint32_t len = offs[i] == 32 ? 5 : 8;
        frag_v4(&p, 4, offs[i], dgram + offs[i], len, offs[i] != 32, 10 + (uint64_t)i);
        assert_int_equal(ns_defrag_add(d, &p, &res), i < 4 ? NS_EAGAIN : 0);
    }
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 5);
    assert_int_equal(res.first_ts_ns, 10);
    assert_int_equal(ns_defrag_stats(d)->reassembled, 2);
    assert_int_equal(ns_defrag_stats(d)->overlaps, 1);
    assert_int_equal(ns_defrag_bytes(d), 0);
    ns_defrag_free(d);
}

static void test_defrag_ipv6_overlap_dropped(void **state)
{
    (void)state;
    struct ns_defrag_result res;
    struct ns_packet p;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    assert_int_equal(add_piece(d, 6, 5, dgram, 0, 1, &res), NS_EAGAIN);
    /* [8, 24) with the same bytes: still an overlap (RFC 5722) */
    frag_v6(&p, 5, 8, dgram + 8, 16, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 5, dgram, 1, 3, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 5, dgram, 2, 4, &res), NS_EMALFORMED);
    const struct ns_defrag_stats *st = ns_defrag_stats(d);
    assert_int_equal(st->overlaps, 2);
    assert_int_equal(st->overlaps_conflicting, 0);
    assert_int_equal(st->invalid, 1);
    assert_int_equal(st->reassembled, 0);
    assert_int_equal(ns_defrag_bytes(d), 0);

    /* the same overlap in IPv4 is kept */
    assert_int_equal(add_piece(d, 4, 5, dgram, 0, 5, &res), NS_EAGAIN);
    frag_v4(&p, 5, 8, dgram + 8, 16, true, 6);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 5, dgram, 1, 7, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 5, dgram, 2, 8, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(st->reassembled, 1);

    /* an exact duplicate is not an overlap (RFC 8200 section 4.5) */
    assert_int_equal(add_piece(d, 6, 6, dgram, 1, 9, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 6, dgram, 1, 10, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 6, dgram, 0, 11, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 6, 6, dgram, 2, 12, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 4);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->reassembled, 2);
    assert_int_equal(st->invalid, 1);
    ns_defrag_free(d);
}

static void test_defrag_timeout(void **state)
{
    (void)state;
    struct ns_defrag_result res;
    struct ns_defrag *d = new_defrag(1 * SEC, 0, 0);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 5 * SEC, &res), NS_EAGAIN);
    /* exactly the timeout old: kept */
    ns_defrag_expire(d, 6 * SEC);
    assert_true(ns_defrag_bytes(d) > 0);
    assert_int_equal(ns_defrag_stats(d)->timeouts, 0);
    ns_defrag_expire(d, 6 * SEC + 1);
    assert_int_equal(ns_defrag_stats(d)->timeouts, 1);
    assert_int_equal(ns_defrag_bytes(d), 0);
    /* A is gone: B and C alone never complete */
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 6 * SEC + 2, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 6 * SEC + 3, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_stats(d)->reassembled, 0);
    ns_defrag_free(d);

    /* ns_defrag_add expires on its own, at the time of the fragment it gets */
    d = new_defrag(1 * SEC, 0, 0);
    assert_int_equal(add_piece(d, 4, 7, dgram, 0, 10 * SEC, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 8, dgram, 0, 12 * SEC, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_stats(d)->timeouts, 1);
    assert_int_equal(add_piece(d, 4, 7, dgram, 1, 12 * SEC, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 7, dgram, 2, 12 * SEC, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 8, dgram, 1, 12 * SEC, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 8, dgram, 2, 12 * SEC, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.first_ts_ns, 12 * SEC);
    assert_int_equal(ns_defrag_stats(d)->timeouts, 1);
    assert_int_equal(ns_defrag_stats(d)->reassembled, 1);

    /*
     * Capture time going backwards: id 9 (11 s) is created after id 7 (12 s).
     * ns_defrag_expire walks every datagram, not only the oldest.
     */
    assert_int_equal(add_piece(d, 4, 9, dgram, 0, 11 * SEC, &res), NS_EAGAIN);
    ns_defrag_expire(d, 12 * SEC + SEC / 2);
    assert_int_equal(ns_defrag_stats(d)->timeouts, 2);
    assert_true(ns_defrag_bytes(d) > 0);
    assert_int_equal(add_piece(d, 4, 9, dgram, 1, 12 * SEC + SEC / 2, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 9, dgram, 2, 12 * SEC + SEC / 2, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 7, dgram, 0, 12 * SEC + SEC / 2, &res), 0);
    assert_int_equal(res.first_ts_ns, 12 * SEC);
    ns_defrag_expire(d, 14 * SEC);
    assert_int_equal(ns_defrag_stats(d)->timeouts, 3);
    assert_int_equal(ns_defrag_bytes(d), 0);
    ns_defrag_free(d);
}

/* Bytes one datagram holding fragment A accounts for. */
static size_t one_fragment_bytes(void)
{
    struct ns_defrag_result res;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 1, &res), NS_EAGAIN);
    size_t b = ns_defrag_bytes(d);
    assert_true(b > 16);
    ns_defrag_free(d);
    return b;
}

static void test_defrag_memory_cap(void **state)
{
    (void)state;
    struct ns_defrag_result res;
    size_t b1 = one_fragment_bytes();
    /* room for two datagrams holding A, and the 21 bytes one of them grows by */
    size_t cap = 2 * b1 + 24;
    struct ns_defrag *d = new_defrag(0, cap, 0);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 1, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 2, dgram, 0, 2, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_bytes(d), 2 * b1);
    assert_int_equal(ns_defrag_stats(d)->evicted, 0);
    /* a third datagram does not fit: the oldest (id 1) goes */
    assert_int_equal(add_piece(d, 4, 3, dgram, 0, 3, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_stats(d)->evicted, 1);
    assert_int_equal(ns_defrag_bytes(d), 2 * b1);
    assert_int_equal(add_piece(d, 4, 2, dgram, 1, 4, &res), NS_EAGAIN);
    assert_true(ns_defrag_bytes(d) <= cap);
    assert_int_equal(add_piece(d, 4, 2, dgram, 2, 5, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(ns_defrag_stats(d)->evicted, 1);
    assert_int_equal(ns_defrag_bytes(d), b1);
    /* id 1 lost A */
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 6, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 7, &res), NS_EAGAIN);
    assert_true(ns_defrag_bytes(d) <= cap);
    assert_int_equal(ns_defrag_stats(d)->evicted, 1);
    assert_int_equal(ns_defrag_stats(d)->reassembled, 1);
    ns_defrag_free(d);

    /* one datagram that outgrows the cap on its own is dropped */
    d = new_defrag(0, b1, 0);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 1, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_bytes(d), b1);
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 2, &res), NS_ELIMIT);
    assert_int_equal(ns_defrag_stats(d)->evicted, 1);
    assert_int_equal(ns_defrag_bytes(d), 0);
    ns_defrag_free(d);
}

static void test_defrag_max_datagrams(void **state)
{
    (void)state;
    struct ns_defrag_result res;
    struct ns_defrag *d = new_defrag(0, 0, 2);
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 1, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 2, dgram, 0, 2, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 3, dgram, 0, 3, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_stats(d)->evicted, 1);
    assert_int_equal(add_piece(d, 4, 2, dgram, 1, 4, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 2, dgram, 2, 5, &res), 0);
    assert_int_equal(res.first_ts_ns, 2);
    assert_int_equal(add_piece(d, 4, 3, dgram, 1, 6, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 3, dgram, 2, 7, &res), 0);
    assert_int_equal(res.first_ts_ns, 3);
    assert_memory_equal(res.payload, dgram, 37);
    /* id 1 was the one evicted */
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 8, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 9, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_stats(d)->reassembled, 2);
    assert_int_equal(ns_defrag_stats(d)->evicted, 1);
    ns_defrag_free(d);
}

static void test_defrag_too_big(void **state)
{
    (void)state;
    static uint8_t zeros[16];
    struct ns_defrag_result res;
    struct ns_packet p;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    /* 65528 + 16 = 65544 > 65535 */
    frag_v4(&p, 1, 65528, zeros, 16, true, 1);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    assert_int_equal(ns_defrag_stats(d)->too_big, 1);
    assert_int_equal(ns_defrag_bytes(d), 0);
    /* 65528 + 8 = 65536, one too many */
    frag_v4(&p, 1, 65528, zeros, 8, false, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    assert_int_equal(ns_defrag_stats(d)->too_big, 2);
    /* 65528 + 7 = 65535 is the largest end allowed */
    frag_v4(&p, 1, 65528, zeros, 7, false, 3);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EAGAIN);
    assert_int_equal(ns_defrag_stats(d)->too_big, 2);
    assert_int_equal(ns_defrag_stats(d)->invalid, 0);
    assert_int_equal(ns_defrag_stats(d)->fragments, 3);
    ns_defrag_free(d);
}

static void test_defrag_invalid(void **state)
{
    (void)state;
    struct ns_defrag_result res;
    struct ns_packet p;
    struct ns_defrag *d = new_defrag(0, 0, 0);
    const struct ns_defrag_stats *st = ns_defrag_stats(d);

    /* not the last, 15 bytes: not a multiple of 8 */
    frag_v4(&p, 1, 0, dgram, 15, true, 1);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    assert_int_equal(st->invalid, 1);
    assert_int_equal(ns_defrag_bytes(d), 0);
    /* an offset that is not a multiple of 8 */
    frag_v4(&p, 1, 4, dgram + 4, 8, true, 2);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    /* an empty fragment */
    frag_v4(&p, 1, 8, dgram + 8, 0, true, 3);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    assert_int_equal(st->invalid, 3);

    /* the last fragment sets the end at 37 */
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 4, &res), NS_EAGAIN);
    /* [40, 48) lies past the end */
    frag_v4(&p, 1, 40, dgram, 8, true, 5);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    /* a second last fragment with another end (40) */
    static const uint8_t eight[8] = {'!', '!', '!', '!', '!', '?', '?', '?'};
    frag_v4(&p, 1, 32, eight, 8, false, 6);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    /* a second last fragment ending before 37 */
    frag_v4(&p, 1, 16, dgram + 16, 5, false, 7);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    assert_int_equal(st->invalid, 6);
    /* the same last fragment again is a duplicate, not an error */
    assert_int_equal(add_piece(d, 4, 1, dgram, 2, 8, &res), NS_EAGAIN);
    assert_int_equal(st->duplicates, 1);

    /* a last fragment that ends before bytes already held (id 2) */
    assert_int_equal(add_piece(d, 4, 2, dgram, 1, 9, &res), NS_EAGAIN);
    frag_v4(&p, 2, 0, dgram, 8, false, 10);
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EMALFORMED);
    assert_int_equal(st->invalid, 7);

    /* what was refused left the rest intact: both datagrams complete */
    assert_int_equal(add_piece(d, 4, 1, dgram, 0, 11, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 1, dgram, 1, 12, &res), 0);
    assert_int_equal(res.len, 37);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 4);
    assert_int_equal(res.first_ts_ns, 4);
    assert_int_equal(add_piece(d, 4, 2, dgram, 0, 13, &res), NS_EAGAIN);
    assert_int_equal(add_piece(d, 4, 2, dgram, 2, 14, &res), 0);
    assert_memory_equal(res.payload, dgram, 37);
    assert_int_equal(res.frames, 3);
    assert_int_equal(st->reassembled, 2);
    assert_int_equal(st->fragments, 14);
    assert_int_equal(st->invalid, 7);

    /* not a fragment at all: a caller error, not counted */
    frag_v4(&p, 3, 0, dgram, 16, true, 15);
    p.flags = 0;
    assert_int_equal(ns_defrag_add(d, &p, &res), NS_EINVAL);
    assert_int_equal(st->fragments, 14);
    ns_defrag_free(d);
}

/* Datagrams that differ only in id, VLAN, protocol or IP version stay apart. */
static void test_defrag_interleaved(void **state)
{
    (void)state;
    enum { N = 6 };
    static const struct {
        int ipver;
        uint32_t id;
        int vlan; /* -1: untagged */
        uint8_t proto;
    } keys[N] = {
        {4, 1, -1, 17}, {4, 2, -1, 17}, {4, 1, 10, 17},
        {4, 1, 20, 17}, {4, 1, -1, 6},  {6, 1, -1, 17},
    };
    uint8_t content[N][37];
    for (int k = 0; k < N; k++) {
        for (int i = 0; i < 37; i++) {
            content[k][i] = (uint8_t)(dgram[i] ^ (0x11 * k));
        }
    }
    struct ns_defrag *d = new_defrag(0, 0, 0);
    struct ns_defrag_result res;
    struct ns_packet p;
    /* every A, then every C in reverse, then every B (which completes) */
    static const int piece_order[3] = {0, 2, 1};
    uint64_t ts = 1;
    for (int step = 0; step < 3; step++) {
        for (int j = 0; j < N; j++) {
            int k = step == 1 ? N - 1 - j : j;
            piece_pkt(&p, keys[k].ipver, keys[k].id, content[k], piece_order[step], ts++);
            p.proto = keys[k].proto;
            if (keys[k].vlan >= 0) {
                p.vlan[0] = (uint16_t)keys[k].vlan;
                p.vlan_count = 1;
                p.wirelen += 4;
            }
            int rc = ns_defrag_add(d, &p, &res);
            if (step < 2) {
                assert_int_equal(rc, NS_EAGAIN);
                continue;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(res.len, 37);
            assert_memory_equal(res.payload, content[k], 37);
            assert_int_equal(res.frames, 3);
            assert_int_equal(res.first_ts_ns, (uint64_t)k + 1);
            uint32_t hdr = keys[k].ipver == 6 ? WIRE_V6 : WIRE_V4;
            uint32_t tag = keys[k].vlan >= 0 ? 4 : 0;
            assert_int_equal(res.wire_bytes, 3 * (hdr + tag) + 37);
        }
    }
    assert_int_equal(ns_defrag_stats(d)->reassembled, N);
    assert_int_equal(ns_defrag_stats(d)->overlaps, 0);
    assert_int_equal(ns_defrag_bytes(d), 0);
    ns_defrag_free(d);
}

/*
 * Fail allocation N, for N = 1, 2, ... until a run needs fewer than N: every
 * run must end without a crash or a leak (the ASan build checks leaks), and a
 * fragment refused with NS_ENOMEM is accepted when given again.
 */
static void test_defrag_alloc_failures(void **state)
{
    (void)state;
    static const int order[3] = {2, 0, 1};
    bool done = false;
    for (uint64_t n = 1; n < 200 && !done; n++) {
        uint64_t before = ns_alloc_count();
        ns_alloc_fail_at(n);
        struct ns_defrag *d = NULL;
        int rc = ns_defrag_new(&d, NULL);
        if (rc != 0) {
            assert_int_equal(rc, NS_ENOMEM);
            assert_null(d);
            ns_alloc_fail_at(0);
            continue;
        }
        struct ns_defrag_result res;
        memset(&res, 0, sizeof(res));
        int enomem = 0;
        for (int k = 0; k < 3; k++) {
            rc = add_piece(d, 4, 42, dgram, order[k], 1, &res);
            if (rc == NS_ENOMEM) {
                enomem++;
                rc = add_piece(d, 4, 42, dgram, order[k], 1, &res);
            }
            assert_int_equal(rc, k < 2 ? NS_EAGAIN : 0);
        }
        assert_int_equal(res.len, 37);
        assert_memory_equal(res.payload, dgram, 37);
        assert_int_equal(ns_defrag_stats(d)->reassembled, 1);
        ns_defrag_free(d);
        ns_alloc_fail_at(0);
        uint64_t used = ns_alloc_count() - before;
        if (used < n) {
            /* allocation n never happened: this run met no failure */
            assert_int_equal(enomem, 0);
            done = true;
        } else {
            assert_true(enomem <= 1);
        }
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defrag_ipv4_in_order),
        cmocka_unit_test(test_defrag_ipv4_every_order),
        cmocka_unit_test(test_defrag_ipv6_reversed),
        cmocka_unit_test(test_defrag_duplicate),
        cmocka_unit_test(test_defrag_overlap_same_bytes),
        cmocka_unit_test(test_defrag_overlap_first_wins),
        cmocka_unit_test(test_defrag_holes),
        cmocka_unit_test(test_defrag_ipv6_overlap_dropped),
        cmocka_unit_test(test_defrag_timeout),
        cmocka_unit_test(test_defrag_memory_cap),
        cmocka_unit_test(test_defrag_max_datagrams),
        cmocka_unit_test(test_defrag_too_big),
        cmocka_unit_test(test_defrag_invalid),
        cmocka_unit_test(test_defrag_interleaved),
        cmocka_unit_test(test_defrag_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
