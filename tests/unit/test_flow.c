/*
 * test_flow.c - the flow table (netsift/flow.h): canonical keys, direction,
 * the TCP state machine, timeouts, reuse of a 4-tuple, the flow cap with
 * LRU eviction, end-of-input order, allocation failures and a randomized
 * run of 100000 flows through a table of 1000.
 *
 * Packets are built by hand as struct ns_packet values: the flow table needs
 * only the decoded fields, so no capture and no decoder are involved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/flow.h"

#define SEC  ((uint64_t)1000000000)
#define MSEC ((uint64_t)1000000)

#define SYN NS_TCP_SYN
#define ACK NS_TCP_ACK
#define FIN NS_TCP_FIN
#define RST NS_TCP_RST
#define PSH NS_TCP_PSH

/* ---- helpers ---- */

static uint8_t parse_addr(const char *s, struct ns_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->a) == 1) {
        a->family = 4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, s, a->a), 1);
        a->family = 6;
    }
    return a->family;
}

static struct ns_packet mkpkt(uint8_t proto, const char *src, uint16_t sport, const char *dst,
                              uint16_t dport, uint64_t ts)
{
    struct ns_packet p;

    memset(&p, 0, sizeof(p));
    p.ipver = parse_addr(src, &p.src);
    assert_int_equal(parse_addr(dst, &p.dst), p.ipver);
    p.proto = proto;
    p.flags = NS_PKT_F_HAS_L4;
    p.sport = sport;
    p.dport = dport;
    if (proto == NS_IPPROTO_ICMP || proto == NS_IPPROTO_ICMPV6) {
        p.icmp_type = (uint8_t)sport;
        p.icmp_code = (uint8_t)dport;
    }
    p.ts_ns = ts;
    p.wirelen = 60;
    return p;
}

static struct ns_packet tcp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                            uint8_t flags, uint64_t ts)
{
    struct ns_packet p = mkpkt(NS_IPPROTO_TCP, src, sport, dst, dport, ts);
    p.tcp_flags = flags;
    return p;
}

/* Copies of ended flows, in callback order. */
struct rec {
    size_t n;
    struct ns_flow f[32];
    uint64_t ended;
    uint64_t packets;
    struct ns_flow_key *keys; /* when set: keys of the flows ended at end of input */
    size_t nkeys;
    size_t capkeys;
    uint8_t *ended_ids; /* when set: ended_ids[id] = 1 for every ended flow */
    size_t ended_cap;
};

static void rec_on_end(void *ud, struct ns_flow *f)
{
    struct rec *r = ud;

    assert_int_not_equal(f->end, NS_FLOW_END_NONE);
    if (r->n < sizeof(r->f) / sizeof(r->f[0])) {
        r->f[r->n++] = *f;
    }
    r->ended++;
    r->packets += f->packets[0] + f->packets[1];
    if (r->ended_ids != NULL) {
        assert_true(f->id < r->ended_cap);
        assert_int_equal(r->ended_ids[f->id], 0); /* each flow ends once */
        r->ended_ids[f->id] = 1;
    }
    if (r->keys != NULL && f->end == NS_FLOW_END_EOF && r->nkeys < r->capkeys) {
        r->keys[r->nkeys++] = f->key;
    }
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct ns_flow_key));
}

static struct ns_flow_table *mktable(struct rec *r, size_t max_flows)
{
    struct ns_flow_table *t = NULL;
    struct ns_flow_opts o = {0};

    memset(r, 0, sizeof(*r));
    o.max_flows = max_flows;
    o.on_end = rec_on_end;
    o.ud = r;
    assert_int_equal(ns_flow_table_new(&t, &o), 0);
    assert_non_null(t);
    return t;
}

static struct ns_flow *upd(struct ns_flow_table *t, const struct ns_packet *p, uint64_t bytes,
                           int *dir)
{
    struct ns_flow *f = NULL;
    int d = -1;

    assert_int_equal(ns_flow_table_update(t, p, 1, bytes, &f, &d), 0);
    assert_non_null(f);
    assert_true(d == 0 || d == 1);
    if (dir != NULL) {
        *dir = d;
    }
    return f;
}

static void assert_src(const struct ns_flow *f, const char *addr, uint16_t port)
{
    struct ns_addr want;
    struct ns_addr src;
    uint16_t sport = 0;

    parse_addr(addr, &want);
    ns_flow_endpoints(f, &src, &sport, NULL, NULL);
    assert_int_equal(src.family, want.family);
    assert_memory_equal(src.a, want.a, 16);
    assert_int_equal(sport, port);
}

/* ---- TCP ---- */

static void test_flow_tcp_handshake_data_close(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    /* the client has the higher address: src is the key's hi side */
    const char *c = "10.0.0.9";
    const char *s = "10.0.0.2";
    struct ns_packet p;
    struct ns_flow *f;
    int dir;

    p = tcp(c, 40000, s, 80, SYN, 1 * SEC);
    f = upd(t, &p, 74, &dir);
    assert_int_equal(dir, 0);
    assert_int_equal(f->state, NS_FLOW_ST_SYN_SENT);
    assert_false(f->src_is_lo);
    assert_true(f->syn_seen);

    p = tcp(s, 80, c, 40000, SYN | ACK, 1 * SEC + 1 * MSEC);
    f = upd(t, &p, 74, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(f->state, NS_FLOW_ST_SYN_RECEIVED);

    p = tcp(c, 40000, s, 80, ACK, 1 * SEC + 2 * MSEC);
    f = upd(t, &p, 66, &dir);
    assert_int_equal(dir, 0);
    assert_int_equal(f->state, NS_FLOW_ST_ESTABLISHED);

    p = tcp(c, 40000, s, 80, PSH | ACK, 1 * SEC + 3 * MSEC);
    f = upd(t, &p, 200, &dir);
    p = tcp(s, 80, c, 40000, PSH | ACK, 1 * SEC + 4 * MSEC);
    f = upd(t, &p, 1000, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(f->state, NS_FLOW_ST_ESTABLISHED);

    p = tcp(c, 40000, s, 80, FIN | ACK, 1 * SEC + 5 * MSEC);
    f = upd(t, &p, 66, &dir);
    assert_int_equal(f->state, NS_FLOW_ST_FIN_WAIT);
    p = tcp(s, 80, c, 40000, FIN | ACK, 1 * SEC + 6 * MSEC);
    f = upd(t, &p, 66, &dir);
    assert_int_equal(f->state, NS_FLOW_ST_CLOSED);
    p = tcp(c, 40000, s, 80, ACK, 1 * SEC + 7 * MSEC);
    f = upd(t, &p, 66, &dir);
    assert_int_equal(dir, 0);
    assert_int_equal(f->state, NS_FLOW_ST_CLOSED);

    assert_int_equal(ns_flow_table_count(t), 1);
    assert_int_equal(f->id, 1);
    assert_int_equal(f->packets[0], 5);
    assert_int_equal(f->packets[1], 3);
    assert_int_equal(f->bytes[0], 74 + 66 + 200 + 66 + 66);
    assert_int_equal(f->bytes[1], 74 + 1000 + 66);
    assert_int_equal(f->tcp_flags[0], SYN | ACK | PSH | FIN);
    assert_int_equal(f->tcp_flags[1], SYN | ACK | PSH | FIN);
    assert_int_equal(f->first_ns, 1 * SEC);
    assert_int_equal(f->last_ns, 1 * SEC + 7 * MSEC);
    assert_src(f, c, 40000);
    assert_int_equal(f->key.lo_port, 80);
    assert_int_equal(f->key.hi_port, 40000);
    assert_int_equal(r.ended, 0);

    ns_flow_table_flush(t);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].end, NS_FLOW_END_EOF);
    assert_int_equal(r.f[0].state, NS_FLOW_ST_CLOSED);
    assert_int_equal(ns_flow_table_count(t), 0);
    assert_int_equal(ns_flow_table_stats(t)->created, 1);
    assert_int_equal(ns_flow_table_stats(t)->ended, 1);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 1); /* nothing left for free to end */
}

static void test_flow_tcp_midstream_synack_first(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;
    struct ns_flow *f;
    int dir;

    /* the server (lower address) answers first: the client is src anyway */
    p = tcp("10.0.0.2", 443, "10.0.0.9", 51000, SYN | ACK, 5 * SEC);
    f = upd(t, &p, 74, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(f->state, NS_FLOW_ST_SYN_RECEIVED);
    assert_false(f->syn_seen);
    assert_src(f, "10.0.0.9", 51000);
    assert_int_equal(f->packets[1], 1);
    assert_int_equal(f->packets[0], 0);

    p = tcp("10.0.0.9", 51000, "10.0.0.2", 443, ACK, 5 * SEC + 1);
    f = upd(t, &p, 66, &dir);
    assert_int_equal(dir, 0);
    assert_int_equal(f->state, NS_FLOW_ST_ESTABLISHED);

    /* picked up in the middle: data both ways establishes it */
    p = tcp("10.0.0.2", 22, "10.0.0.9", 52000, PSH | ACK, 5 * SEC + 2);
    f = upd(t, &p, 100, &dir);
    assert_int_equal(dir, 0);
    assert_int_equal(f->state, NS_FLOW_ST_NEW);
    assert_src(f, "10.0.0.2", 22);
    p = tcp("10.0.0.9", 52000, "10.0.0.2", 22, ACK, 5 * SEC + 3);
    f = upd(t, &p, 60, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(f->state, NS_FLOW_ST_ESTABLISHED);
    assert_int_equal(ns_flow_table_count(t), 2);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 2);
}

static void test_flow_tcp_reused_tuple(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    const char *a = "192.168.1.10";
    const char *b = "192.168.1.20";
    struct ns_packet p;
    struct ns_flow *f;
    int dir;

    p = tcp(a, 1234, b, 80, SYN, 1 * SEC);
    upd(t, &p, 60, NULL);
    p = tcp(b, 80, a, 1234, SYN | ACK, 1 * SEC + 1);
    upd(t, &p, 60, NULL);
    p = tcp(a, 1234, b, 80, FIN | ACK, 1 * SEC + 2);
    upd(t, &p, 60, NULL);
    p = tcp(b, 80, a, 1234, FIN | ACK, 1 * SEC + 3);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->state, NS_FLOW_ST_CLOSED);

    /* the same 4-tuple opens again, from the other side, within the closed timeout */
    p = tcp(b, 80, a, 1234, SYN, 1 * SEC + 4);
    f = upd(t, &p, 60, &dir);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].end, NS_FLOW_END_REUSED);
    assert_int_equal(r.f[0].id, 1);
    assert_int_equal(r.f[0].packets[0] + r.f[0].packets[1], 4);
    assert_int_equal(f->id, 2);
    assert_int_equal(dir, 0);
    assert_int_equal(f->state, NS_FLOW_ST_SYN_SENT);
    assert_src(f, b, 80);
    assert_int_equal(f->packets[0], 1);
    assert_int_equal(f->packets[1], 0);
    assert_int_equal(f->first_ns, 1 * SEC + 4);

    /* a RST, then a SYN: reused again */
    p = tcp(a, 1234, b, 80, RST, 1 * SEC + 5);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->state, NS_FLOW_ST_RESET);
    p = tcp(a, 1234, b, 80, SYN, 1 * SEC + 6);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.f[1].end, NS_FLOW_END_REUSED);
    assert_int_equal(r.f[1].state, NS_FLOW_ST_RESET);
    assert_int_equal(f->id, 3);
    assert_src(f, a, 1234);

    /* a SYN on an open flow (retransmission) is not a reuse */
    p = tcp(a, 1234, b, 80, SYN, 1 * SEC + 7);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->id, 3);
    assert_int_equal(f->packets[0], 2);

    assert_int_equal(ns_flow_table_stats(t)->reused, 2);
    assert_int_equal(ns_flow_table_stats(t)->created, 3);
    assert_int_equal(ns_flow_table_count(t), 1);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.f[2].end, NS_FLOW_END_EOF);
}

/* ---- UDP, ICMP, VLAN, no L4 ---- */

static void test_flow_udp_both_ways(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;
    struct ns_flow *f;
    int dir;

    p = mkpkt(NS_IPPROTO_UDP, "192.168.1.52", 54585, "8.8.8.8", 53, 1 * SEC);
    f = upd(t, &p, 80, &dir);
    assert_int_equal(dir, 0);
    assert_true(f->src_is_lo == false); /* 8.8.8.8 sorts first */
    p = mkpkt(NS_IPPROTO_UDP, "8.8.8.8", 53, "192.168.1.52", 54585, 1 * SEC + 20 * MSEC);
    f = upd(t, &p, 120, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(ns_flow_table_count(t), 1);
    assert_int_equal(f->packets[0], 1);
    assert_int_equal(f->packets[1], 1);
    assert_int_equal(f->bytes[0], 80);
    assert_int_equal(f->bytes[1], 120);
    assert_int_equal(f->state, NS_FLOW_ST_NEW);
    assert_src(f, "192.168.1.52", 54585);

    /* frames and bytes of a reassembled datagram count as given */
    {
        struct ns_flow *g = NULL;
        p = mkpkt(NS_IPPROTO_UDP, "192.168.1.52", 54585, "8.8.8.8", 53, 1 * SEC + 30 * MSEC);
        assert_int_equal(ns_flow_table_update(t, &p, 3, 4000, &g, &dir), 0);
        assert_int_equal(g->packets[0], 4);
        assert_int_equal(g->bytes[0], 4080);
    }

    /* a non-IP packet is refused */
    {
        struct ns_flow *g = NULL;
        p.ipver = 0;
        assert_int_equal(ns_flow_table_update(t, &p, 1, 60, &g, &dir), NS_EINVAL);
    }
    ns_flow_table_free(t);
}

static void test_flow_icmp_echo_one_flow(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;
    struct ns_flow *f;
    char cid[64];
    int dir;

    p = mkpkt(NS_IPPROTO_ICMP, "192.168.0.89", 8, "192.168.0.1", 0, 1 * SEC);
    f = upd(t, &p, 98, &dir);
    assert_int_equal(dir, 0);
    p = mkpkt(NS_IPPROTO_ICMP, "192.168.0.1", 0, "192.168.0.89", 0, 1 * SEC + 1 * MSEC);
    f = upd(t, &p, 98, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(ns_flow_table_count(t), 1);
    assert_int_equal(f->packets[0], 1);
    assert_int_equal(f->packets[1], 1);
    assert_src(f, "192.168.0.89", 8);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");

    /* one-way messages (time exceeded) keyed from their sender: two flows */
    p = mkpkt(NS_IPPROTO_ICMP, "10.0.0.1", 11, "10.0.0.2", 0, 2 * SEC);
    f = upd(t, &p, 70, &dir);
    assert_int_equal(ns_community_id(4, 1, p.src.a, p.dst.a, 11, 0, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
    p = mkpkt(NS_IPPROTO_ICMP, "10.0.0.2", 11, "10.0.0.1", 0, 2 * SEC + 1);
    f = upd(t, &p, 70, &dir);
    assert_int_equal(dir, 0);
    assert_src(f, "10.0.0.2", 11);
    assert_int_equal(ns_flow_table_count(t), 3);

    /* ICMPv6 neighbor solicitation and advertisement: one flow */
    p = mkpkt(NS_IPPROTO_ICMPV6, "fe80::200:86ff:fe05:80da", 135, "fe80::260:97ff:fe07:69ea", 0,
              3 * SEC);
    upd(t, &p, 86, NULL);
    p = mkpkt(NS_IPPROTO_ICMPV6, "fe80::260:97ff:fe07:69ea", 136, "fe80::200:86ff:fe05:80da", 0,
              3 * SEC + 1);
    f = upd(t, &p, 86, &dir);
    assert_int_equal(dir, 1);
    assert_int_equal(f->packets[0] + f->packets[1], 2);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
    assert_int_equal(ns_flow_table_count(t), 4);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 4);
}

static void test_flow_vlan_separates(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p = mkpkt(NS_IPPROTO_UDP, "10.1.1.1", 5000, "10.1.1.2", 6000, 1 * SEC);
    struct ns_flow *f;

    p.vlan_count = 2;
    p.vlan[0] = 10;
    p.vlan[1] = 99;
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->key.vlan, 10);
    p.vlan[0] = 20;
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->key.vlan, 20);
    p.vlan_count = 0;
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->key.vlan, 0);
    assert_int_equal(ns_flow_table_count(t), 3);
    /* the inner tag does not matter */
    p.vlan_count = 1;
    p.vlan[0] = 10;
    p.vlan[1] = 0;
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->packets[0], 2);
    assert_int_equal(ns_flow_table_count(t), 3);
    ns_flow_table_free(t);
}

static void test_flow_no_l4_ports_zero(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p = tcp("10.0.0.1", 1000, "10.0.0.2", 2000, ACK, 1 * SEC);
    struct ns_flow *f;
    char cid[64];

    upd(t, &p, 60, NULL);
    /* a fragment that was not reassembled: no ports, its own flow */
    p.flags = NS_PKT_F_FRAGMENT;
    f = upd(t, &p, 1500, NULL);
    assert_int_equal(f->key.lo_port, 0);
    assert_int_equal(f->key.hi_port, 0);
    assert_int_equal(f->state, NS_FLOW_ST_NEW);
    /* another protocol (RSVP): ports 0, Community ID without ports */
    p = mkpkt(46, "10.1.12.2", 0, "10.1.12.1", 0, 2 * SEC);
    p.flags = 0;
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
    assert_int_equal(ns_flow_table_count(t), 3);
    ns_flow_table_free(t);
}

/* ---- timeouts ---- */

static void test_flow_idle_timeout(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;
    struct ns_flow *f;

    p = tcp("10.0.0.1", 1000, "10.0.0.2", 80, SYN, 1 * SEC);
    upd(t, &p, 60, NULL);
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1000, "10.0.0.2", 53, 1 * SEC);
    upd(t, &p, 60, NULL);

    ns_flow_table_expire(t, 60 * SEC);
    assert_int_equal(r.n, 0);
    ns_flow_table_expire(t, 61 * SEC); /* UDP: 60 s without packets */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].key.proto, NS_IPPROTO_UDP);
    assert_int_equal(r.f[0].end, NS_FLOW_END_IDLE);
    ns_flow_table_expire(t, 120 * SEC);
    assert_int_equal(r.n, 1);
    ns_flow_table_expire(t, 121 * SEC); /* TCP: 120 s */
    assert_int_equal(r.n, 2);
    assert_int_equal(r.f[1].key.proto, NS_IPPROTO_TCP);
    assert_int_equal(r.f[1].end, NS_FLOW_END_IDLE);
    assert_int_equal(ns_flow_table_count(t), 0);
    assert_int_equal(ns_flow_table_stats(t)->timed_out, 2);

    /* a packet after the timeout starts a new flow (here the sweep ends the old one) */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1000, "10.0.0.2", 53, 200 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->id, 3);
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.2", 53, "10.0.0.1", 1000, 260 * SEC + 500 * MSEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.f[2].id, 3);
    assert_int_equal(r.f[2].end, NS_FLOW_END_IDLE);
    assert_int_equal(f->id, 4);
    assert_src(f, "10.0.0.2", 53);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 4);

    /* a 500 ms UDP timeout: the second packet comes before the next sweep is due */
    {
        struct ns_flow_opts o = {0};
        memset(&r, 0, sizeof(r));
        o.udp_timeout_ns = 500 * MSEC;
        o.on_end = rec_on_end;
        o.ud = &r;
        assert_int_equal(ns_flow_table_new(&t, &o), 0);
        p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1000, "10.0.0.2", 53, 10 * SEC);
        upd(t, &p, 60, NULL);
        p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1000, "10.0.0.2", 53, 10 * SEC + 400 * MSEC);
        f = upd(t, &p, 60, NULL);
        assert_int_equal(f->id, 1);
        p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1000, "10.0.0.2", 53, 10 * SEC + 900 * MSEC);
        f = upd(t, &p, 60, NULL);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.f[0].end, NS_FLOW_END_IDLE);
        assert_int_equal(r.f[0].packets[0], 2);
        assert_int_equal(f->id, 2);
        assert_int_equal(f->packets[0], 1);
        assert_int_equal(ns_flow_table_stats(t)->timed_out, 1);
        ns_flow_table_free(t);
        assert_int_equal(r.n, 2);
    }
}

static void test_flow_closed_timeout(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;

    p = tcp("10.0.0.1", 1000, "10.0.0.2", 80, FIN | ACK, 10 * SEC);
    upd(t, &p, 60, NULL);
    p = tcp("10.0.0.2", 80, "10.0.0.1", 1000, FIN | ACK, 10 * SEC);
    upd(t, &p, 60, NULL);
    p = tcp("10.0.0.3", 1000, "10.0.0.2", 80, RST, 10 * SEC);
    upd(t, &p, 60, NULL);
    p = tcp("10.0.0.4", 1000, "10.0.0.2", 80, FIN, 10 * SEC);
    upd(t, &p, 60, NULL);

    ns_flow_table_expire(t, 19 * SEC);
    assert_int_equal(r.n, 0);
    ns_flow_table_expire(t, 20 * SEC);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.f[0].end, NS_FLOW_END_CLOSED);
    assert_int_equal(r.f[0].id, 1);
    assert_int_equal(r.f[1].end, NS_FLOW_END_RESET);
    assert_int_equal(r.f[1].id, 2);
    /* half closed: still subject to the TCP idle timeout */
    assert_int_equal(ns_flow_table_count(t), 1);
    ns_flow_table_expire(t, 130 * SEC);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.f[2].end, NS_FLOW_END_IDLE);
    assert_int_equal(r.f[2].state, NS_FLOW_ST_FIN_WAIT);
    ns_flow_table_free(t);
}

static void test_flow_active_timeout(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = NULL;
    struct ns_flow_opts o = {0};
    struct ns_packet p;
    struct ns_flow *f = NULL;
    int dir;

    memset(&r, 0, sizeof(r));
    o.active_timeout_ns = 100 * SEC;
    o.on_end = rec_on_end;
    o.ud = &r;
    assert_int_equal(ns_flow_table_new(&t, &o), 0);
    for (uint64_t s = 0; s <= 90; s += 30) {
        p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 7, "10.0.0.2", 7000, s * SEC);
        f = upd(t, &p, 100, NULL);
    }
    assert_int_equal(f->packets[0], 4);
    assert_int_equal(r.n, 0);
    /* 120 s after the first packet: the record is cut, the conversation goes on */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.2", 7000, "10.0.0.1", 7, 120 * SEC);
    f = upd(t, &p, 100, &dir);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].end, NS_FLOW_END_ACTIVE);
    assert_int_equal(r.f[0].packets[0], 4);
    assert_int_equal(r.f[0].first_ns, 0);
    assert_int_equal(r.f[0].last_ns, 90 * SEC);
    assert_int_equal(f->id, 2);
    assert_int_equal(f->first_ns, 120 * SEC);
    assert_int_equal(dir, 1);
    assert_src(f, "10.0.0.1", 7);
    assert_int_equal(f->packets[0], 0);
    assert_int_equal(f->packets[1], 1);
    assert_int_equal(ns_flow_table_stats(t)->timed_out, 1);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 2);
}

/* ---- cap, flush order ---- */

static void test_flow_cap_evicts_least_recent(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 4);
    struct ns_packet p;
    struct ns_flow *f;

    for (uint16_t i = 1; i <= 4; i++) {
        p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", i, "10.0.0.2", 53, i * MSEC);
        upd(t, &p, 60, NULL);
    }
    /* flow 1 is seen again: flow 2 becomes the least recent */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.2", 53, "10.0.0.1", 1, 5 * MSEC);
    upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_table_count(t), 4);
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 5, "10.0.0.2", 53, 6 * MSEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->id, 5);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].end, NS_FLOW_END_EVICTED);
    assert_int_equal(r.f[0].id, 2);
    assert_int_equal(ns_flow_table_count(t), 4);
    assert_int_equal(ns_flow_table_stats(t)->evicted, 1);
    assert_int_equal(ns_flow_table_stats(t)->active_max, 4);
    /* flow 1 is still there */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1, "10.0.0.2", 53, 7 * MSEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(f->id, 1);
    assert_int_equal(f->packets[0] + f->packets[1], 3);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 5);
}

static void test_flow_flush_first_seen_order(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;

    /* capture time out of order (merged inputs): ids 1..4, first_ns 5, 3, 3, 4 */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1, "10.0.0.2", 9, 5 * SEC);
    upd(t, &p, 60, NULL);
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 2, "10.0.0.2", 9, 3 * SEC);
    upd(t, &p, 60, NULL);
    p = mkpkt(NS_IPPROTO_TCP, "10.0.0.1", 3, "10.0.0.2", 9, 3 * SEC);
    upd(t, &p, 60, NULL);
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 4, "10.0.0.2", 9, 4 * SEC);
    upd(t, &p, 60, NULL);
    /* touching flow 2 late does not move it in first-seen order */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 2, "10.0.0.2", 9, 6 * SEC);
    upd(t, &p, 60, NULL);
    ns_flow_table_flush(t);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.f[0].id, 2);
    assert_int_equal(r.f[1].id, 3);
    assert_int_equal(r.f[2].id, 4);
    assert_int_equal(r.f[3].id, 1);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(r.f[i].end, NS_FLOW_END_EOF);
    }
    /* the table is usable after a flush */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", 1, "10.0.0.2", 9, 7 * SEC);
    assert_int_equal(upd(t, &p, 60, NULL)->id, 5);
    assert_int_equal(ns_flow_table_count(t), 1);
    ns_flow_table_free(t);
    assert_int_equal(r.n, 5);
}

/* ---- Community ID of flows ---- */

static void assert_cid_matches_endpoints(const struct ns_flow *f)
{
    struct ns_addr s;
    struct ns_addr d;
    uint16_t sp = 0;
    uint16_t dp = 0;
    char a[64];
    char b[64];

    ns_flow_endpoints(f, &s, &sp, &d, &dp);
    for (uint16_t seed = 0; seed < 2; seed++) {
        assert_int_equal(ns_flow_community_id(f, seed, a, sizeof(a)), 0);
        assert_int_equal(
            ns_community_id(f->key.ipver, f->key.proto, s.a, d.a, sp, dp, seed, b, sizeof(b)), 0);
        assert_string_equal(a, b);
    }
}

static void test_flow_community_id_of_flows(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 0);
    struct ns_packet p;
    struct ns_flow *f;
    char cid[64];

    /* the published TCP vector, the flow picked up at the server's SYN+ACK */
    p = tcp("66.35.250.204", 80, "128.232.110.120", 34855, SYN | ACK, 1 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    assert_int_equal(ns_flow_community_id(f, 1, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
    assert_cid_matches_endpoints(f);

    p = tcp("2607:f8b0:400c:c03::1a", 25, "2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, ACK,
            2 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
    assert_cid_matches_endpoints(f);

    p = mkpkt(NS_IPPROTO_UDP, "8.8.8.8", 53, "192.168.1.52", 54585, 3 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 1, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=");
    assert_cid_matches_endpoints(f);

    /* an echo reply seen first, an ICMPv6 one-way message, an ICMPv6 echo */
    p = mkpkt(NS_IPPROTO_ICMP, "192.168.0.1", 0, "192.168.0.89", 0, 4 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    assert_cid_matches_endpoints(f);
    p = mkpkt(NS_IPPROTO_ICMPV6, "3ffe:507:0:1:200:86ff:fe05:80da", 3,
              "3ffe:507:0:1:260:97ff:fe07:69ea", 0, 5 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:/OGBt9BN1ofenrmSPWYicpij2Vc=");
    assert_cid_matches_endpoints(f);
    p = mkpkt(NS_IPPROTO_ICMPV6, "3ffe:501:0:1001::2", 129, "3ffe:507:0:1:200:86ff:fe05:80da", 0,
              6 * SEC);
    f = upd(t, &p, 60, NULL);
    assert_int_equal(ns_flow_community_id(f, 1, cid, sizeof(cid)), 0);
    assert_string_equal(cid, "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=");
    assert_cid_matches_endpoints(f);
    ns_flow_table_free(t);
}

/* ---- robustness ---- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static void test_flow_random_100000_flows_cap_1000(void **state)
{
    (void)state;
    struct rec r;
    struct ns_flow_table *t = mktable(&r, 1000);
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    uint64_t updates = 0;
    uint64_t now = 1 * SEC;
    /* id of the flow each pool tuple got last time; ids of the flows that ended */
    static uint64_t pool_id[3000];
    static uint8_t ended[100002];

    memset(pool_id, 0, sizeof(pool_id));
    memset(ended, 0, sizeof(ended));
    r.ended_ids = ended;
    r.ended_cap = sizeof(ended);
    for (uint32_t i = 0; i < 100000; i++) {
        struct ns_packet p;
        struct ns_flow *f = NULL;
        struct ns_addr s;
        uint16_t sp = 0;
        uint64_t x = xorshift(&rng);
        size_t k = SIZE_MAX;
        int dir = -1;

        /*
         * Half new tuples, half from a pool of 3000 (three times the cap) seen
         * again in either direction, so lookups run after evictions and
         * deletions in their probe chains.
         */
        if ((x & 1) == 0) {
            k = (size_t)(xorshift(&rng) % 3000);
            x = (k + 1) * 0x9e3779b97f4a7c15ULL;
            x ^= x >> 29;
        }
        memset(&p, 0, sizeof(p));
        p.ipver = (x & 8) != 0 ? 6 : 4;
        p.src.family = p.ipver;
        p.dst.family = p.ipver;
        p.src.a[0] = 10;
        p.dst.a[0] = 10;
        p.src.a[1] = (uint8_t)(x >> 8);
        p.dst.a[1] = (uint8_t)(x >> 16);
        p.src.a[2] = (uint8_t)(x >> 56);
        p.dst.a[3] = (uint8_t)(x >> 5);
        p.proto = (x & 16) != 0 ? NS_IPPROTO_TCP : NS_IPPROTO_UDP;
        p.flags = NS_PKT_F_HAS_L4;
        p.sport = (uint16_t)(x >> 24);
        p.dport = (uint16_t)(x >> 40);
        p.tcp_flags = (uint8_t)xorshift(&rng);
        if ((xorshift(&rng) & 1) != 0) {
            struct ns_addr tmp = p.src;
            uint16_t tp = p.sport;
            p.src = p.dst;
            p.dst = tmp;
            p.sport = p.dport;
            p.dport = tp;
        }
        now += 1000 + xorshift(&rng) % 20000;
        if (i % 10000 == 9999) {
            now += 61 * SEC; /* let the UDP flows time out now and then */
        }
        p.ts_ns = now;
        assert_int_equal(ns_flow_table_update(t, &p, 1, 60, &f, &dir), 0);
        updates++;
        /* the flow returned is the packet's, in the direction given */
        ns_flow_endpoints(f, &s, &sp, NULL, NULL);
        if (dir == 0) {
            assert_memory_equal(s.a, p.src.a, 16);
            assert_int_equal(sp, p.sport);
        } else {
            assert_memory_equal(s.a, p.dst.a, 16);
            assert_int_equal(sp, p.dport);
        }
        assert_true(ns_flow_table_count(t) <= 1000);
        /* a pool tuple whose flow has not ended must find that flow again */
        if (k != SIZE_MAX) {
            if (pool_id[k] != 0 && f->id != pool_id[k]) {
                assert_int_equal(ended[pool_id[k]], 1);
            }
            pool_id[k] = f->id;
        }
    }
    {
        const struct ns_flow_stats *st = ns_flow_table_stats(t);
        assert_int_equal(st->active_max, 1000);
        assert_true(st->evicted > 0);
        assert_int_equal(st->no_memory, 0);
        assert_int_equal(st->created, st->ended + ns_flow_table_count(t));
    }
    {
        /* every flow left is found by its key: no key may be held twice */
        static struct ns_flow_key keys[1000];
        size_t left = ns_flow_table_count(t);

        r.keys = keys;
        r.capkeys = 1000;
        ns_flow_table_free(t);
        assert_int_equal(r.nkeys, left);
        qsort(keys, left, sizeof(keys[0]), key_cmp);
        for (size_t i = 1; i < left; i++) {
            assert_true(key_cmp(&keys[i - 1], &keys[i]) != 0);
        }
    }
    assert_int_equal(r.packets, updates);
}

/*
 * Fill a table of `cap` flows until the next flow needs memory, then fail
 * that allocation. A table of 100000 flows has its slab reserved up front
 * and only its index grows; one of 4 million (over the 256 MiB reserved at
 * once) grows its slab too.
 */
static void flow_alloc_failures(uint32_t cap, bool slab_grows)
{
    struct rec r;
    struct ns_flow_table *t = NULL;
    struct ns_packet p;
    struct ns_flow *f = NULL;
    uint32_t n = 0;
    int dir;
    int rc;

    t = mktable(&r, cap);
    for (;;) {
        p = mkpkt(NS_IPPROTO_UDP, "10.0.0.1", (uint16_t)(n + 1), "10.0.0.2", 53, 1 * SEC + n);
        ns_alloc_fail_at(1);
        rc = ns_flow_table_update(t, &p, 1, 60, &f, &dir);
        ns_alloc_fail_at(0);
        if (rc != 0) {
            break;
        }
        n++;
        assert_true(n < 5000);
    }
    assert_int_equal(rc, NS_ENOMEM);
    assert_int_equal(n, 1024); /* the index's first growth: 2048 slots at most half full */
    assert_int_equal(ns_flow_table_stats(t)->no_memory, 1);
    assert_int_equal(ns_flow_table_count(t), n);
    /* the index grows (first allocation); the slab, when it has to grow, cannot (second) */
    ns_alloc_fail_at(2);
    rc = ns_flow_table_update(t, &p, 1, 60, &f, &dir);
    ns_alloc_fail_at(0);
    if (slab_grows) {
        assert_int_equal(rc, NS_ENOMEM);
        assert_int_equal(ns_flow_table_stats(t)->no_memory, 2);
        assert_int_equal(ns_flow_table_count(t), n);
        /* without the failure the same packet gets its flow */
        assert_int_equal(ns_flow_table_update(t, &p, 1, 60, &f, &dir), 0);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(ns_flow_table_stats(t)->no_memory, 1);
    }
    assert_int_equal(ns_flow_table_count(t), n + 1);
    /* the old flows are intact */
    p = mkpkt(NS_IPPROTO_UDP, "10.0.0.2", 53, "10.0.0.1", 1, 2 * SEC);
    f = upd(t, &p, 60, &dir);
    assert_int_equal(f->id, 1);
    assert_int_equal(dir, 1);
    ns_flow_table_free(t);
    assert_int_equal(r.ended, n + 1);
}

static void test_flow_alloc_failures(void **state)
{
    (void)state;
    struct ns_flow_table *t = NULL;
    ns_alloc_fail_at(1);
    assert_int_equal(ns_flow_table_new(&t, NULL), NS_ENOMEM);
    assert_null(t);
    ns_alloc_fail_at(3);
    assert_int_equal(ns_flow_table_new(&t, NULL), NS_ENOMEM);
    ns_alloc_fail_at(0);
    flow_alloc_failures(100000, false);
    flow_alloc_failures(4000000, true);
}

static void test_flow_names(void **state)
{
    (void)state;
    assert_string_equal(ns_flow_state_name(NS_FLOW_ST_NEW), "new");
    assert_string_equal(ns_flow_state_name(NS_FLOW_ST_ESTABLISHED), "established");
    assert_string_equal(ns_flow_state_name(NS_FLOW_ST_RESET), "reset");
    assert_string_equal(ns_flow_end_name(NS_FLOW_END_IDLE), "idle_timeout");
    assert_string_equal(ns_flow_end_name(NS_FLOW_END_ACTIVE), "active_timeout");
    assert_string_equal(ns_flow_end_name(NS_FLOW_END_REUSED), "reused");
    assert_string_equal(ns_flow_end_name(NS_FLOW_END_EOF), "eof");
    assert_string_equal(ns_flow_end_name((enum ns_flow_end)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_tcp_handshake_data_close),
        cmocka_unit_test(test_flow_tcp_midstream_synack_first),
        cmocka_unit_test(test_flow_tcp_reused_tuple),
        cmocka_unit_test(test_flow_udp_both_ways),
        cmocka_unit_test(test_flow_icmp_echo_one_flow),
        cmocka_unit_test(test_flow_vlan_separates),
        cmocka_unit_test(test_flow_no_l4_ports_zero),
        cmocka_unit_test(test_flow_idle_timeout),
        cmocka_unit_test(test_flow_closed_timeout),
        cmocka_unit_test(test_flow_active_timeout),
        cmocka_unit_test(test_flow_cap_evicts_least_recent),
        cmocka_unit_test(test_flow_flush_first_seen_order),
        cmocka_unit_test(test_flow_community_id_of_flows),
        cmocka_unit_test(test_flow_random_100000_flows_cap_1000),
        cmocka_unit_test(test_flow_alloc_failures),
        cmocka_unit_test(test_flow_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
