/*
 * test_tcp.c - TCP stream reassembly (tcp.h, RFC 9293 section 3.4 sequence
 * numbers): handshake, every arrival order, duplicates, overlaps under the
 * "first wins" policy, wrap-around, lost segments, FIN / RST / end of flow
 * (a RST closes its sender's direction only: the peer's later bytes are
 * delivered, the sender's later segments counted), mid-stream pick-up, SYN
 * with data, both caps, hostile sequence jumps, snap-length cut segments,
 * two directions interleaved, and a run that fails each allocation in turn.
 *
 * Segments are built directly as struct ns_packet values the way the decoder
 * leaves them (NS_PKT_F_HAS_L4, proto 6, seq, flags, payload view). What the
 * reassembler reports is recorded per flow and direction as one string:
 * data bytes as they are, "[gap N]" for a gap of N bytes, and "[fin]",
 * "[rst]" or "[end]" for the close, so each test asserts the exact stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/tcp.h"

#define FIN NS_TCP_FIN
#define SYN NS_TCP_SYN
#define RST NS_TCP_RST
#define ACK NS_TCP_ACK

#define NFLOWS 2
#define OUTLEN 1024

/* ---- recording what the reassembler reports ---- */

struct rec {
    struct ns_flow flows[NFLOWS];
    char out[NFLOWS][2][OUTLEN];
    size_t len[NFLOWS][2];
    int closes[NFLOWS][2];
    int conn_ends[NFLOWS];
    const uint8_t *last_data; /* view of the last on_data call */
    size_t ignore_at[NFLOWS]
                    [2]; /* on_data sets conn->ignore once this many bytes came (0: never) */
    uint64_t clock;
};

static int flow_index(struct rec *r, const struct ns_tcp_conn *c)
{
    for (int i = 0; i < NFLOWS; i++) {
        if (c->flow == &r->flows[i]) {
            return i;
        }
    }
    fail_msg("callback for an unknown flow");
    return 0;
}

static void rec_put(struct rec *r, int f, int dir, const char *s, size_t n)
{
    assert_true(r->len[f][dir] + n < OUTLEN);
    memcpy(r->out[f][dir] + r->len[f][dir], s, n);
    r->len[f][dir] += n;
    r->out[f][dir][r->len[f][dir]] = '\0';
}

static void on_data(void *ud, struct ns_tcp_conn *c, int dir, const uint8_t *data, size_t len,
                    uint64_t ts_ns)
{
    struct rec *r = ud;
    (void)ts_ns;
    int f = flow_index(r, c);
    assert_int_equal(r->closes[f][dir], 0);
    assert_true(len > 0);
    r->last_data = data;
    rec_put(r, f, dir, (const char *)data, len);
    if (r->ignore_at[f][dir] > 0 && r->len[f][dir] >= r->ignore_at[f][dir]) {
        c->ignore[dir] = true;
    }
}

static void on_gap(void *ud, struct ns_tcp_conn *c, int dir, uint64_t len, uint64_t ts_ns)
{
    struct rec *r = ud;
    char buf[48];
    (void)ts_ns;
    int f = flow_index(r, c);
    assert_int_equal(r->closes[f][dir], 0);
    assert_true(len > 0);
    int n = snprintf(buf, sizeof(buf), "[gap %llu]", (unsigned long long)len);
    rec_put(r, f, dir, buf, (size_t)n);
}

static void on_close(void *ud, struct ns_tcp_conn *c, int dir, enum ns_tcp_close why,
                     uint64_t ts_ns)
{
    struct rec *r = ud;
    (void)ts_ns;
    int f = flow_index(r, c);
    r->closes[f][dir]++;
    assert_true(c->closed[dir]);
    assert_int_equal(c->close_reason[dir], why);
    const char *s = why == NS_TCP_CLOSE_FIN ? "[fin]" : why == NS_TCP_CLOSE_RST ? "[rst]" : "[end]";
    rec_put(r, f, dir, s, strlen(s));
}

static void on_conn_end(void *ud, struct ns_tcp_conn *c)
{
    struct rec *r = ud;
    int f = flow_index(r, c);
    assert_true(c->closed[0]);
    assert_true(c->closed[1]);
    r->conn_ends[f]++;
}

static struct ns_tcp *mk_tcp(struct rec *r, size_t per_dir, size_t total)
{
    struct ns_tcp_reasm_opts o;
    struct ns_tcp *t = NULL;
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < NFLOWS; i++) {
        r->flows[i].key.proto = NS_IPPROTO_TCP;
        r->flows[i].id = (uint64_t)i + 1;
    }
    memset(&o, 0, sizeof(o));
    o.max_ooo_per_dir = per_dir;
    o.max_ooo_total = total;
    o.on_data = on_data;
    o.on_gap = on_gap;
    o.on_close = on_close;
    o.on_conn_end = on_conn_end;
    o.ud = r;
    assert_int_equal(ns_tcp_new(&t, &o), 0);
    return t;
}

/* A TCP segment of flow `f`, direction `dir`, carrying the bytes of `data` (may be NULL). */
static void mk_pkt(struct rec *r, struct ns_packet *p, uint8_t flags, uint32_t seq,
                   const char *data)
{
    memset(p, 0, sizeof(*p));
    p->flags = NS_PKT_F_HAS_L4;
    p->ipver = 4;
    p->proto = NS_IPPROTO_TCP;
    p->tcp_flags = flags;
    p->seq = seq;
    p->ts_ns = ++r->clock;
    if (data != NULL) {
        p->payload = (const uint8_t *)data;
        p->payload_len = (uint32_t)strlen(data);
        p->payload_wire_len = p->payload_len;
    }
}

static int seg(struct ns_tcp *t, struct rec *r, int f, int dir, uint8_t flags, uint32_t seq,
               const char *data)
{
    struct ns_packet p;
    mk_pkt(r, &p, flags, seq, data);
    return ns_tcp_segment(t, &r->flows[f], dir, &p);
}

/* Client ISN 1000 (data from 1001), server ISN 5000 (data from 5001). */
static void handshake(struct ns_tcp *t, struct rec *r, int f)
{
    assert_int_equal(seg(t, r, f, 0, SYN, 1000, NULL), 0);
    assert_int_equal(seg(t, r, f, 1, SYN | ACK, 5000, NULL), 0);
    assert_int_equal(seg(t, r, f, 0, ACK, 1001, NULL), 0);
}

static void end_and_free(struct ns_tcp *t, struct rec *r)
{
    for (int i = 0; i < NFLOWS; i++) {
        ns_tcp_flow_end(t, &r->flows[i]);
        assert_null(r->flows[i].user);
    }
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    ns_tcp_free(t);
}

/* ---- tests ---- */

static void test_tcp_handshake_in_order(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    static const char req1[] = "GET /";
    handshake(t, &r, 0);
    assert_non_null(r.flows[0].user);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, req1), 0);
    assert_ptr_equal(r.last_data, (const uint8_t *)req1); /* zero-copy view of the payload */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1006, "abc"), 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5001, "HTTP"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1009, NULL), 0);
    assert_string_equal(r.out[0][0], "GET /abc[fin]");
    assert_int_equal(r.closes[0][1], 0);
    assert_int_equal(seg(t, &r, 0, 1, FIN | ACK, 5005, NULL), 0);
    assert_string_equal(r.out[0][1], "HTTP[fin]");
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1010, NULL), 0); /* last ACK: nothing */

    const struct ns_tcp_conn *c = r.flows[0].user;
    assert_int_equal(c->delivered[0], 8);
    assert_int_equal(c->delivered[1], 4);
    assert_int_equal(c->segments[0], 2);
    assert_int_equal(c->segments[1], 1);
    assert_true(c->syn_seen[0] && c->syn_seen[1]);
    assert_int_equal(c->first_ns, 1);
    assert_int_equal(c->last_ns, 9);

    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->conns, 1);
    assert_int_equal(st->segments, 3);
    assert_int_equal(st->bytes, 12);
    assert_int_equal(st->midstream, 0);
    assert_int_equal(st->gaps, 0);
    assert_int_equal(st->ooo_segments, 0);
    assert_int_equal(st->retransmitted, 0);

    ns_tcp_flow_end(t, &r.flows[0]);
    assert_int_equal(r.conn_ends[0], 1);
    assert_string_equal(r.out[0][0], "GET /abc[fin]"); /* closed once */
    end_and_free(t, &r);
}

static void test_tcp_reversed(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "ghi"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "def"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 6);
    assert_string_equal(r.out[0][0], "");
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0);
    assert_string_equal(r.out[0][0], "abcdefghi");
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->ooo_segments, 2);
    assert_int_equal(st->ooo_bytes_max, 6);
    assert_int_equal(st->overlaps, 0);
    assert_int_equal(st->bytes, 9);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "abcdefghi[end]");
    assert_string_equal(r.out[0][1], "[end]");
}

static void test_tcp_duplicated(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0); /* retransmission */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "ghi"), 0); /* held */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "ghi"), 0); /* duplicate of held */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1002, "bcd"), 0); /* partly retransmitted */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1005, "efg"), 0); /* new + held "g" */
    assert_string_equal(r.out[0][0], "abcdefghi");
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->retransmitted, 2);
    assert_int_equal(st->overlaps, 3); /* duplicate of held, "bcd", "efg" */
    assert_int_equal(st->overlap_conflicts, 0);
    assert_int_equal(st->ooo_segments, 1);
    assert_int_equal(st->segments, 6);
    assert_int_equal(st->bytes, 9);
    end_and_free(t, &r);
}

static void test_tcp_overlap_same_bytes(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    /* held: [1004,1008) "defg" and [1010,1012) "jk"; then [1006,1011) "fghij" fills around */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "defg"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1010, "jk"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1006, "fghij"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 11 - 3);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abcde"), 0);
    assert_string_equal(r.out[0][0], "abcdefghijk");
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->overlaps, 2);
    assert_int_equal(st->overlap_conflicts, 0);
    assert_int_equal(st->ooo_segments, 3);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    end_and_free(t, &r);
}

static void test_tcp_overlap_conflict(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    /* held first: "XYZ" at [1004,1007); later "abcdef" at [1001,1007) disagrees on 3 bytes */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "XYZ"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abcdef"), 0);
    assert_string_equal(r.out[0][0], "abcXYZ");
    /* held "QRS" at [1011,1014); "mnopqr" at [1009,1015) holds "mn" and "r" around it */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1011, "QRS"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1009, "mnopqr"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 6);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "gh"), 0);
    assert_string_equal(r.out[0][0], "abcXYZghmnQRSr");
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->overlaps, 2);
    assert_int_equal(st->overlap_conflicts, 2);
    assert_int_equal(st->bytes, 14);
    end_and_free(t, &r);
}

/* ISN 2^32 - 6: the stream crosses sequence number 0, segments given in reverse. */
static void test_tcp_wrap(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    uint32_t isn = 0xfffffffau;
    assert_int_equal(seg(t, &r, 0, 0, SYN, isn, NULL), 0);
    assert_int_equal(seg(t, &r, 0, 1, SYN | ACK, 0xffffffffu, NULL), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 4, "jklm"), 0);            /* [4, 8) */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 0xffffffffu, "efghi"), 0); /* [2^32-1, 4) */
    assert_int_equal(seg(t, &r, 0, 0, ACK, isn + 1, "abcd"), 0);      /* [2^32-5, 2^32-1) */
    assert_int_equal(seg(t, &r, 0, 1, ACK, 0, "server"), 0);          /* ISN+1 wraps to 0 */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 0xfffffff0u, "old"), 0);   /* before the ISN */
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 8, NULL), 0);
    assert_string_equal(r.out[0][0], "abcdefghijklm[fin]");
    assert_string_equal(r.out[0][1], "server");
    assert_int_equal(ns_tcp_stats(t)->retransmitted, 1);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][1], "server[end]");
}

static void test_tcp_lost_segment(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "aaa"), 0);
    /* [1004, 1011) never arrives */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1011, "ccc"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1014, NULL), 0);
    assert_string_equal(r.out[0][0], "aaa"); /* the FIN waits for the hole */
    assert_int_equal(r.closes[0][0], 0);
    ns_tcp_flow_end(t, &r.flows[0]);
    assert_string_equal(r.out[0][0], "aaa[gap 7]ccc[fin]");
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->gaps, 1);
    assert_int_equal(st->gap_bytes, 7);
    assert_int_equal(r.conn_ends[0], 1);
    end_and_free(t, &r);
}

/* A lost segment right before the FIN: the hole up to the FIN is a gap at the end. */
static void test_tcp_lost_before_fin(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "aaa"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1010, NULL), 0);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "aaa[gap 6][fin]");
}

/*
 * A RST closes its sender's direction only (after flushing it with its
 * holes as gaps): bytes the peer sent before it saw the RST arrive later and
 * are delivered, up to the peer's own FIN.
 */
static void test_tcp_rst(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "ghi"), 0); /* held behind a hole of 3 */
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5001, "xy"), 0);
    assert_int_equal(seg(t, &r, 0, 0, RST | ACK, 1010, NULL), 0);
    assert_string_equal(r.out[0][0], "abc[gap 3]ghi[rst]");
    assert_string_equal(r.out[0][1], "xy");
    assert_int_equal(r.closes[0][1], 0);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    /* the server's bytes sent before it saw the RST: delivered */
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5006, "late"), 0); /* held behind a hole of 3 */
    assert_int_equal(ns_tcp_held_bytes(t), 4);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5003, "z12"), 0);
    assert_string_equal(r.out[0][1], "xyz12late");
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    assert_int_equal(seg(t, &r, 0, 1, FIN | ACK, 5010, NULL), 0);
    assert_string_equal(r.out[0][1], "xyz12late[fin]");
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->after_close, 0);
    assert_int_equal(st->bytes, 15);
    const struct ns_tcp_conn *c = r.flows[0].user;
    assert_int_equal(c->close_reason[0], NS_TCP_CLOSE_RST);
    assert_int_equal(c->close_reason[1], NS_TCP_CLOSE_FIN);
    assert_int_equal(c->delivered[1], 9);
    ns_tcp_flow_end(t, &r.flows[0]);
    assert_string_equal(r.out[0][0], "abc[gap 3]ghi[rst]");
    assert_string_equal(r.out[0][1], "xyz12late[fin]");
    assert_int_equal(r.conn_ends[0], 1);
    end_and_free(t, &r);
}

/*
 * RST from both sides, each closing its own direction; the peer's
 * direction stays under its out-of-order cap (4 bytes here) in between.
 */
static void test_tcp_rst_both(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 4, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "req"), 0);
    assert_int_equal(seg(t, &r, 0, 0, RST, 1004, NULL), 0);
    assert_string_equal(r.out[0][0], "req[rst]");
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5006, "fgh"), 0);   /* held: 3 bytes */
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5009, "ijklm"), 0); /* 8 > 4: the hole is a gap */
    assert_int_equal(ns_tcp_stats(t)->cap_per_dir, 1);
    assert_string_equal(r.out[0][1], "[gap 5]fghijklm");
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5016, "op"), 0); /* held behind a hole of 2 */
    assert_int_equal(ns_tcp_held_bytes(t), 2);
    assert_int_equal(seg(t, &r, 0, 1, RST | ACK, 5018, NULL), 0);
    assert_string_equal(r.out[0][1], "[gap 5]fghijklm[gap 2]op[rst]");
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    /* more RSTs and data from either side: counted, nothing delivered or closed again */
    assert_int_equal(seg(t, &r, 0, 0, RST | ACK, 1004, "x"), 0);
    assert_int_equal(seg(t, &r, 0, 1, RST, 5018, NULL), 0);
    assert_int_equal(ns_tcp_stats(t)->after_close, 1);
    ns_tcp_flow_end(t, &r.flows[0]);
    assert_int_equal(r.closes[0][0], 1);
    assert_int_equal(r.closes[0][1], 1);
    assert_int_equal(r.conn_ends[0], 1);
    assert_string_equal(r.out[0][0], "req[rst]");
    assert_string_equal(r.out[0][1], "[gap 5]fghijklm[gap 2]op[rst]");
    end_and_free(t, &r);
}

/*
 * Segments of the RST's sender that arrive after it (retransmissions, data
 * past the RST) are counted as after_close and not delivered; the peer's
 * direction ends with the flow.
 */
static void test_tcp_rst_then_retransmission(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0);
    assert_int_equal(seg(t, &r, 0, 0, RST | ACK, 1004, NULL), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0);  /* retransmitted */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "more"), 0); /* past the RST */
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->after_close, 2);
    assert_int_equal(st->retransmitted, 0);
    assert_int_equal(st->segments, 3);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    assert_string_equal(r.out[0][0], "abc[rst]");
    const struct ns_tcp_conn *c = r.flows[0].user;
    assert_int_equal(c->delivered[0], 3);
    assert_int_equal(c->segments[0], 3);
    assert_false(c->closed[1]);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5001, "resp"), 0);
    ns_tcp_flow_end(t, &r.flows[0]);
    assert_string_equal(r.out[0][0], "abc[rst]");
    assert_string_equal(r.out[0][1], "resp[end]");
    end_and_free(t, &r);
}

/* A RST from a side that already closed with FIN leaves the other side open. */
static void test_tcp_rst_after_fin(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1001, "bye"), 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5001, "ok"), 0);
    assert_int_equal(seg(t, &r, 0, 0, RST, 1005, NULL), 0);
    assert_string_equal(r.out[0][0], "bye[fin]");
    assert_string_equal(r.out[0][1], "ok");
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5003, "!"), 0);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "bye[fin]");
    assert_string_equal(r.out[0][1], "ok![end]");
}

static void test_tcp_midstream(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 7777, NULL), 0); /* no data: does not start it */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 7777, "hello"), 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 300, "HI"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 7770, "earlier"), 0); /* before the pick-up */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 7782, "world"), 0);
    assert_string_equal(r.out[0][0], "helloworld");
    assert_string_equal(r.out[0][1], "HI");
    const struct ns_tcp_conn *c = r.flows[0].user;
    assert_false(c->syn_seen[0]);
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->midstream, 2);
    assert_int_equal(st->retransmitted, 1);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "helloworld[end]");
}

static void test_tcp_syn_with_data(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    assert_int_equal(seg(t, &r, 0, 0, SYN, 100, "fast"), 0); /* TCP Fast Open style */
    assert_int_equal(seg(t, &r, 0, 1, SYN | ACK, 900, "srv"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 105, "open"), 0);
    assert_int_equal(seg(t, &r, 0, 0, SYN, 100, "fast"), 0); /* SYN retransmitted */
    assert_string_equal(r.out[0][0], "fastopen");
    assert_string_equal(r.out[0][1], "srv");
    assert_int_equal(ns_tcp_stats(t)->midstream, 0);
    assert_int_equal(ns_tcp_stats(t)->retransmitted, 1);
    end_and_free(t, &r);
}

/* SYN seen, then the first data segments are lost: a gap from ISN + 1. */
static void test_tcp_syn_then_lost_start(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1101, "late"), 0);
    assert_string_equal(r.out[0][0], "");
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "[gap 100]late[end]");
}

static void test_tcp_cap_per_dir(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 8, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1005, "bbbb"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1013, "dddd"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 8);
    assert_string_equal(r.out[0][0], "");
    /* one more byte would pass the cap: what is held goes out with its holes */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1021, "ffff"), 0);
    assert_string_equal(r.out[0][0], "[gap 4]bbbb[gap 4]dddd");
    assert_int_equal(ns_tcp_held_bytes(t), 4); /* "ffff" held now */
    /* a segment bigger than the cap on its own: gap up to it, delivered directly */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1030, "0123456789"), 0);
    assert_string_equal(r.out[0][0], "[gap 4]bbbb[gap 4]dddd[gap 4]ffff[gap 5]0123456789");
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->cap_per_dir, 3); /* flush, flush of "ffff", direct delivery */
    assert_int_equal(st->cap_total, 0);
    assert_int_equal(st->ooo_bytes_max, 8);
    assert_int_equal(st->gaps, 4);
    assert_int_equal(st->gap_bytes, 17);
    /* in order again */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1040, "!"), 0);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "[gap 4]bbbb[gap 4]dddd[gap 4]ffff[gap 5]0123456789![end]");
}

static void test_tcp_cap_total(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 10);
    handshake(t, &r, 0);
    handshake(t, &r, 1);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1011, "AAAAAA"), 0); /* flow 0 holds 6 */
    assert_int_equal(seg(t, &r, 1, 1, ACK, 5003, "bbb"), 0);    /* flow 1 holds 3 */
    assert_int_equal(ns_tcp_held_bytes(t), 9);
    assert_int_equal(seg(t, &r, 1, 1, ACK, 5010, "ccc"), 0); /* 12 > 10 */
    /* flow 1 gives up what it held, then holds the new segment */
    assert_string_equal(r.out[1][1], "[gap 2]bbb");
    assert_int_equal(ns_tcp_held_bytes(t), 9);
    assert_int_equal(ns_tcp_stats(t)->cap_total, 1);
    assert_true(ns_tcp_stats(t)->ooo_bytes_max <= 10);
    /* flow 1 holds nothing more it could give: 9 + 4 > 10, skip to the segment */
    assert_int_equal(seg(t, &r, 1, 0, ACK, 1005, "dddd"), 0);
    assert_string_equal(r.out[1][0], "[gap 4]dddd");
    assert_int_equal(ns_tcp_stats(t)->cap_total, 2);
    assert_int_equal(ns_tcp_held_bytes(t), 9);
    assert_int_equal(ns_tcp_stats(t)->ooo_bytes_max, 9);
    assert_string_equal(r.out[0][0], ""); /* flow 0 untouched */
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "[gap 10]AAAAAA[end]");
    assert_string_equal(r.out[1][1], "[gap 2]bbb[gap 4]ccc[end]");
}

static void test_tcp_seq_jump(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001 + NS_TCP_MAX_JUMP + 1, "junk"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1001 + NS_TCP_MAX_JUMP + 1, NULL), 0);
    assert_int_equal(seg(t, &r, 0, 0, RST, 1001 + 0x70000000u, NULL), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    /* exactly the largest jump is still held */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001 + NS_TCP_MAX_JUMP, "far"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 3);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "ok"), 0);
    assert_string_equal(r.out[0][0], "ok");
    assert_int_equal(r.closes[0][0], 0);
    const struct ns_tcp_stats *st = ns_tcp_stats(t);
    assert_int_equal(st->seq_jumps, 3);
    assert_int_equal(st->retransmitted, 0);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "ok[gap 1073741822]far[end]");
}

/* Payload cut by the snap length: 4 of 10 bytes captured. */
static void test_tcp_snapped(void **state)
{
    (void)state;
    struct rec r;
    struct ns_packet p;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    mk_pkt(&r, &p, ACK, 1001, "abcd");
    p.flags |= NS_PKT_F_SNAPPED;
    p.payload_wire_len = 10;
    assert_int_equal(ns_tcp_segment(t, &r.flows[0], 0, &p), 0);
    assert_string_equal(r.out[0][0], "abcd"); /* the tail is a gap once later bytes come */
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1011, "xyz"), 0);
    assert_string_equal(r.out[0][0], "abcd[gap 6]xyz");
    /* a cut segment held out of order, then its FIN */
    mk_pkt(&r, &p, ACK, 1020, "PQ");
    p.flags |= NS_PKT_F_SNAPPED;
    p.payload_wire_len = 5;
    assert_int_equal(ns_tcp_segment(t, &r.flows[0], 0, &p), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1014, "uvwxyz"), 0);
    assert_string_equal(r.out[0][0], "abcd[gap 6]xyzuvwxyzPQ");
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1025, NULL), 0);
    assert_string_equal(r.out[0][0], "abcd[gap 6]xyzuvwxyzPQ[gap 3][fin]");
    assert_int_equal(ns_tcp_stats(t)->gap_bytes, 9);
    end_and_free(t, &r);
}

/* The FIN arrives before a missing segment: the close waits for the data. */
static void test_tcp_fin_before_data(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "aaa"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1007, "ccc"), 0);
    assert_int_equal(r.closes[0][0], 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "bbb"), 0);
    assert_string_equal(r.out[0][0], "aaabbbccc[fin]");
    assert_int_equal(r.closes[0][0], 1);
    /* a retransmitted FIN and data past it change nothing */
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1007, "ccc"), 0);
    assert_int_equal(ns_tcp_stats(t)->after_close, 1);
    end_and_free(t, &r);
    assert_string_equal(r.out[0][0], "aaabbbccc[fin]");
}

/* Bytes past a known FIN are dropped. */
static void test_tcp_data_past_fin(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1004, NULL), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abcdef"), 0);
    assert_string_equal(r.out[0][0], "abc[fin]");
    end_and_free(t, &r);
}

static void test_tcp_interleaved(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5005, "5678"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "DEF"), 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5001, "1234"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "ABC"), 0);
    assert_int_equal(seg(t, &r, 0, 1, FIN | ACK, 5009, NULL), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "GH"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1009, NULL), 0);
    assert_string_equal(r.out[0][0], "ABCDEFGH[fin]");
    assert_string_equal(r.out[0][1], "12345678[fin]");
    const struct ns_tcp_conn *c = r.flows[0].user;
    assert_int_equal(c->delivered[0], 8);
    assert_int_equal(c->delivered[1], 8);
    assert_int_equal(ns_tcp_stats(t)->ooo_segments, 2);
    assert_int_equal(ns_tcp_stats(t)->ooo_bytes_max, 7);
    end_and_free(t, &r);
}

static void test_tcp_flow_end_flushes(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1003, "cd"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1008, "hi"), 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5002, "2"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 5);
    ns_tcp_flow_end(t, &r.flows[0]);
    assert_null(r.flows[0].user);
    assert_string_equal(r.out[0][0], "[gap 2]cd[gap 3]hi[end]");
    assert_string_equal(r.out[0][1], "[gap 1]2[end]");
    assert_int_equal(r.conn_ends[0], 1);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    /* a flow without a connection, and a second call: nothing */
    ns_tcp_flow_end(t, &r.flows[0]);
    ns_tcp_flow_end(t, &r.flows[1]);
    assert_int_equal(r.conn_ends[0], 1);
    assert_int_equal(r.conn_ends[1], 0);
    /* a packet that is not TCP with ports is ignored */
    struct ns_packet p;
    mk_pkt(&r, &p, ACK, 1, "x");
    p.proto = NS_IPPROTO_UDP;
    assert_int_equal(ns_tcp_segment(t, &r.flows[1], 0, &p), 0);
    assert_null(r.flows[1].user);
    end_and_free(t, &r);
}

/*
 * A consumer stops following a direction, between segments (flow 0) and
 * inside on_data (flow 1): no more data or gaps for it, what it held is
 * freed, later segments are counted as ignored, and its close still comes
 * (at its FIN at once, or at the end of the flow). The other direction is
 * untouched.
 */
static void test_tcp_ignore(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    handshake(t, &r, 1);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1001, "abc"), 0);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1007, "ghi"), 0); /* held */
    assert_int_equal(ns_tcp_held_bytes(t), 3);
    struct ns_tcp_conn *c = r.flows[0].user;
    c->ignore[0] = true;
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1004, "def"), 0);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    assert_int_equal(seg(t, &r, 0, 1, ACK, 5001, "1234"), 0);
    assert_int_equal(seg(t, &r, 0, 0, FIN | ACK, 1020, NULL), 0); /* no byte is awaited */
    assert_string_equal(r.out[0][0], "abc[fin]");
    assert_string_equal(r.out[0][1], "1234");
    assert_int_equal(c->delivered[0], 3);
    assert_int_equal(ns_tcp_stats(t)->ignored, 1);

    r.ignore_at[1][1] = 4;
    assert_int_equal(seg(t, &r, 1, 1, ACK, 5005, "5678"), 0); /* held */
    assert_int_equal(seg(t, &r, 1, 1, ACK, 5001, "1234"), 0); /* delivered, then ignored */
    assert_int_equal(seg(t, &r, 1, 1, ACK, 5020, "zz"), 0);   /* ahead: neither held nor gapped */
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    assert_int_equal(seg(t, &r, 1, 0, ACK, 1001, "x"), 0);
    assert_string_equal(r.out[1][1], "1234");
    assert_int_equal(ns_tcp_stats(t)->ignored, 2);
    end_and_free(t, &r);
    assert_string_equal(r.out[1][0], "x[end]");
    assert_string_equal(r.out[1][1], "1234[end]");
    assert_string_equal(r.out[0][1], "1234[end]");
    assert_int_equal(r.conn_ends[0], 1);
    assert_int_equal(r.conn_ends[1], 1);
}

/* ns_tcp_free frees connections that were never ended, without callbacks. */
static void test_tcp_free_with_conns(void **state)
{
    (void)state;
    struct rec r;
    struct ns_tcp *t = mk_tcp(&r, 0, 0);
    handshake(t, &r, 0);
    handshake(t, &r, 1);
    assert_int_equal(seg(t, &r, 0, 0, ACK, 1003, "held"), 0);
    assert_int_equal(seg(t, &r, 1, 0, ACK, 1003, "held"), 0);
    ns_tcp_free(t);
    assert_int_equal(r.conn_ends[0] + r.conn_ends[1], 0);
    assert_string_equal(r.out[0][0], "");
}

/*
 * An out-of-order scenario with allocation N failing, N = 1, 2, ... until a
 * run meets no failure: no crash, no leak (the ASan build checks), and every
 * failure is NS_ENOMEM with the segment treated as lost.
 */
static int alloc_scenario(struct rec *r, bool *complete)
{
    struct ns_tcp_reasm_opts o;
    struct ns_tcp *t = NULL;
    int enomem = 0;
    memset(&o, 0, sizeof(o));
    o.on_data = on_data;
    o.on_gap = on_gap;
    o.on_close = on_close;
    o.on_conn_end = on_conn_end;
    o.ud = r;
    memset(r, 0, sizeof(*r));
    r->flows[0].key.proto = NS_IPPROTO_TCP;
    r->flows[1].key.proto = NS_IPPROTO_TCP;
    int rc = ns_tcp_new(&t, &o);
    if (rc != 0) {
        assert_int_equal(rc, NS_ENOMEM);
        assert_null(t);
        *complete = false;
        return 1;
    }
    static const struct {
        int dir;
        uint8_t flags;
        uint32_t seq;
        const char *data;
    } segs[] = {
        {0, SYN, 1000, NULL},       {1, SYN | ACK, 5000, NULL}, {0, ACK, 1011, "klm"},
        {0, ACK, 1004, "def"},      {1, ACK, 5003, "yz"},       {0, ACK, 1007, "ghij"},
        {0, ACK, 1001, "abc"},      {1, ACK, 5001, "wxy"},      {0, FIN | ACK, 1014, "nop"},
        {1, FIN | ACK, 5005, NULL},
    };
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        rc = seg(t, r, 0, segs[i].dir, segs[i].flags, segs[i].seq, segs[i].data);
        if (rc != 0) {
            assert_int_equal(rc, NS_ENOMEM);
            enomem++;
        }
    }
    ns_tcp_flow_end(t, &r->flows[0]);
    assert_null(r->flows[0].user);
    assert_int_equal(ns_tcp_held_bytes(t), 0);
    assert_int_equal(ns_tcp_stats(t)->no_memory, (uint64_t)enomem);
    *complete = enomem == 0;
    ns_tcp_free(t);
    return enomem;
}

static void test_tcp_alloc_failures(void **state)
{
    (void)state;
    struct rec r;
    bool complete = false;
    bool done = false;
    for (uint64_t n = 1; n < 100 && !done; n++) {
        uint64_t before = ns_alloc_count();
        ns_alloc_fail_at(n);
        int enomem = alloc_scenario(&r, &complete);
        ns_alloc_fail_at(0);
        uint64_t used = ns_alloc_count() - before;
        if (used < n) {
            assert_int_equal(enomem, 0);
            done = true;
        } else {
            assert_int_equal(enomem, 1);
            assert_false(complete);
        }
    }
    assert_true(done);
    assert_true(complete);
    assert_string_equal(r.out[0][0], "abcdefghijklmnop[fin]");
    assert_string_equal(r.out[0][1], "wxyz[fin]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_handshake_in_order),
        cmocka_unit_test(test_tcp_reversed),
        cmocka_unit_test(test_tcp_duplicated),
        cmocka_unit_test(test_tcp_overlap_same_bytes),
        cmocka_unit_test(test_tcp_overlap_conflict),
        cmocka_unit_test(test_tcp_wrap),
        cmocka_unit_test(test_tcp_lost_segment),
        cmocka_unit_test(test_tcp_lost_before_fin),
        cmocka_unit_test(test_tcp_rst),
        cmocka_unit_test(test_tcp_rst_both),
        cmocka_unit_test(test_tcp_rst_then_retransmission),
        cmocka_unit_test(test_tcp_rst_after_fin),
        cmocka_unit_test(test_tcp_midstream),
        cmocka_unit_test(test_tcp_syn_with_data),
        cmocka_unit_test(test_tcp_syn_then_lost_start),
        cmocka_unit_test(test_tcp_cap_per_dir),
        cmocka_unit_test(test_tcp_cap_total),
        cmocka_unit_test(test_tcp_seq_jump),
        cmocka_unit_test(test_tcp_snapped),
        cmocka_unit_test(test_tcp_fin_before_data),
        cmocka_unit_test(test_tcp_data_past_fin),
        cmocka_unit_test(test_tcp_interleaved),
        cmocka_unit_test(test_tcp_flow_end_flushes),
        cmocka_unit_test(test_tcp_ignore),
        cmocka_unit_test(test_tcp_free_with_conns),
        cmocka_unit_test(test_tcp_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
