/*
 * test_analyze_scan.c - attack hints (netsift/scan.h) from hand-made packet
 * sequences run through the real flow table: a vertical SYN scan, a
 * horizontal scan, a SYN flood from spoofed sources, an ICMP sweep, a UDP
 * scan answered by ICMP port-unreachables, a brute-force shape; and the
 * shapes that must stay quiet: many completed connections, a scan slower
 * than the window. Bounds: tracker eviction, the alert cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/err.h"
#include "netsift/flow.h"
#include "netsift/scan.h"

#define SEC  ((uint64_t)1000000000)
#define MSEC ((uint64_t)1000000)

static struct ns_addr addr(const char *s)
{
    struct ns_addr a;
    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, s, a.a) == 1) {
        a.family = 4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, s, a.a), 1);
        a.family = 6;
    }
    return a;
}

static struct ns_packet pkt(uint8_t proto, const char *src, uint16_t sport, const char *dst,
                            uint16_t dport, uint8_t flags, uint64_t ts)
{
    struct ns_packet p;
    memset(&p, 0, sizeof(p));
    p.src = addr(src);
    p.dst = addr(dst);
    p.ipver = p.src.family;
    p.proto = proto;
    p.flags = NS_PKT_F_HAS_L4;
    p.sport = sport;
    p.dport = dport;
    if (proto == NS_IPPROTO_ICMP || proto == NS_IPPROTO_ICMPV6) {
        p.icmp_type = (uint8_t)sport;
        p.icmp_code = (uint8_t)dport;
    }
    p.tcp_flags = flags;
    p.ts_ns = ts;
    p.wirelen = 60;
    p.ttl = 64;
    return p;
}

/* The harness: flow table -> scan detector, alerts recorded. */
struct rig {
    struct ns_flow_table *ft;
    struct ns_scan *sc;
    struct ns_scan_alert seen[64];
    size_t nseen;
};

static void rig_on_alert(void *ud, const struct ns_scan_alert *a)
{
    struct rig *r = ud;
    if (r->nseen < 64) {
        r->seen[r->nseen++] = *a;
    }
}

static void rig_on_end(void *ud, struct ns_flow *f)
{
    struct rig *r = ud;
    ns_scan_flow(r->sc, f);
}

static void rig_init(struct rig *r, const struct ns_scan_opts *o)
{
    memset(r, 0, sizeof(*r));
    struct ns_flow_opts fo;
    memset(&fo, 0, sizeof(fo));
    fo.on_end = rig_on_end;
    fo.ud = r;
    assert_int_equal(ns_scan_new(&r->sc, o, rig_on_alert, r), 0);
    assert_int_equal(ns_flow_table_new(&r->ft, &fo), 0);
}

static void rig_send(struct rig *r, const struct ns_packet *p)
{
    struct ns_flow *f = NULL;
    int dir = 0;
    assert_int_equal(ns_flow_table_update(r->ft, p, 1, p->wirelen, &f, &dir), 0);
    ns_scan_packet(r->sc, p);
}

static const struct ns_scan_alert *rig_finish(struct rig *r, size_t *n)
{
    ns_flow_table_flush(r->ft);
    return ns_scan_alerts(r->sc, n);
}

static void rig_free(struct rig *r)
{
    ns_flow_table_free(r->ft);
    ns_scan_free(r->sc);
}

static void assert_addr(const struct ns_addr *a, const char *want)
{
    char buf[64];
    assert_string_equal(ns_addr_format(a, buf, sizeof(buf)), want);
}

static void test_scan_vertical(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    uint64_t t = 100 * SEC;
    /* 150 ports: 146 closed (RST+ACK), 4 open (SYN+ACK then the scanner's RST) */
    for (uint16_t i = 0; i < 150; i++) {
        uint16_t port = (uint16_t)(1000 + i * 7);
        bool open = i % 40 == 0;
        struct ns_packet s =
            pkt(NS_IPPROTO_TCP, "192.0.2.66", 45000, "198.51.100.5", port, NS_TCP_SYN, t);
        rig_send(&r, &s);
        struct ns_packet a =
            pkt(NS_IPPROTO_TCP, "198.51.100.5", port, "192.0.2.66", 45000,
                open ? NS_TCP_SYN | NS_TCP_ACK : NS_TCP_RST | NS_TCP_ACK, t + MSEC / 2);
        rig_send(&r, &a);
        if (open) {
            struct ns_packet x = pkt(NS_IPPROTO_TCP, "192.0.2.66", 45000, "198.51.100.5", port,
                                     NS_TCP_RST, t + MSEC);
            rig_send(&r, &x);
        }
        t += 2 * MSEC;
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_VERTICAL);
    assert_string_equal(ns_scan_kind_name(al[0].kind), "vertical_scan");
    assert_addr(&al[0].attacker, "192.0.2.66");
    assert_addr(&al[0].victim, "198.51.100.5");
    assert_int_equal(al[0].proto, NS_IPPROTO_TCP);
    assert_false(al[0].has_port);
    assert_int_equal(al[0].distinct, 150);
    assert_int_equal(al[0].attempts, 150);
    assert_int_equal(al[0].refused, 146);
    assert_int_equal(al[0].half_open, 4);
    assert_int_equal(al[0].start_ns, 100 * SEC);
    assert_int_equal(al[0].end_ns, 100 * SEC + 149 * 2 * MSEC);
    assert_int_equal(al[0].id, 1);
    /* the callback saw it when the 100th port was reached */
    assert_int_equal(r.nseen, 1);
    assert_int_equal(r.seen[0].distinct, 100);
    rig_free(&r);
}

static void test_scan_horizontal(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    char dst[32];
    for (int i = 0; i < 80; i++) {
        snprintf(dst, sizeof(dst), "203.0.113.%d", i + 1);
        struct ns_packet s =
            pkt(NS_IPPROTO_TCP, "192.0.2.9", 50000, dst, 22, NS_TCP_SYN, SEC + (uint64_t)i * MSEC);
        rig_send(&r, &s); /* nobody answers */
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_HORIZONTAL);
    assert_addr(&al[0].attacker, "192.0.2.9");
    assert_int_equal(al[0].victim.family, 0);
    assert_true(al[0].has_port);
    assert_int_equal(al[0].port, 22);
    assert_int_equal(al[0].distinct, 80);
    assert_int_equal(al[0].unanswered, 80);
    rig_free(&r);
}

static void test_scan_syn_flood_spoofed(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    char src[32];
    uint64_t x = 7;
    for (int i = 0; i < 1500; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(src, sizeof(src), "%u.%u.%u.%u", (unsigned)(x >> 56) % 200 + 11,
                 (unsigned)(x >> 48) & 255, (unsigned)(x >> 40) & 255, (unsigned)(x >> 32) & 255);
        uint16_t sport = (uint16_t)(1024 + (x >> 16) % 60000);
        uint64_t t = SEC + (uint64_t)i * 100000;
        struct ns_packet s = pkt(NS_IPPROTO_TCP, src, sport, "198.51.100.80", 80, NS_TCP_SYN, t);
        rig_send(&r, &s);
        /* the victim answers every SYN; the spoofed sources never complete */
        struct ns_packet a =
            pkt(NS_IPPROTO_TCP, "198.51.100.80", 80, src, sport, NS_TCP_SYN | NS_TCP_ACK, t + 1000);
        rig_send(&r, &a);
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_SYN_FLOOD);
    assert_int_equal(al[0].attacker.family, 0); /* many sources */
    assert_addr(&al[0].victim, "198.51.100.80");
    assert_int_equal(al[0].port, 80);
    assert_int_equal(al[0].half_open, 1500);
    assert_int_equal(al[0].attempts, 1500);
    assert_true(al[0].distinct >= 1490 && al[0].distinct <= 1500); /* random sources may repeat */
    rig_free(&r);
}

static void test_scan_icmp_sweep(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    char dst[32];
    for (int i = 0; i < 60; i++) {
        snprintf(dst, sizeof(dst), "10.20.%d.%d", i / 200, i % 200 + 1);
        uint64_t t = 5 * SEC + (uint64_t)i * 10 * MSEC;
        struct ns_packet q = pkt(NS_IPPROTO_ICMP, "10.20.9.9", 8, dst, 0, 0, t);
        rig_send(&r, &q);
        if (i % 6 == 0) {
            struct ns_packet a = pkt(NS_IPPROTO_ICMP, dst, 0, "10.20.9.9", 0, 0, t + MSEC);
            rig_send(&r, &a);
        }
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_ICMP_SWEEP);
    assert_addr(&al[0].attacker, "10.20.9.9");
    assert_int_equal(al[0].victim.family, 0);
    assert_int_equal(al[0].proto, NS_IPPROTO_ICMP);
    assert_int_equal(al[0].distinct, 60);
    assert_int_equal(al[0].answered, 10);
    assert_int_equal(al[0].unanswered, 50);
    rig_free(&r);
}

static void test_scan_udp(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    for (uint16_t i = 0; i < 120; i++) {
        uint64_t t = 2 * SEC + (uint64_t)i * MSEC;
        uint16_t port = (uint16_t)(100 + i);
        struct ns_packet u = pkt(NS_IPPROTO_UDP, "2001:db8::66", 40000, "2001:db8::5", port, 0, t);
        rig_send(&r, &u);
        /* closed: ICMPv6 destination unreachable, port unreachable (type 1 code 4) */
        struct ns_packet e =
            pkt(NS_IPPROTO_ICMPV6, "2001:db8::5", 1, "2001:db8::66", 4, 0, t + MSEC / 4);
        rig_send(&r, &e);
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_UDP);
    assert_addr(&al[0].attacker, "2001:db8::66");
    assert_addr(&al[0].victim, "2001:db8::5");
    assert_int_equal(al[0].proto, NS_IPPROTO_UDP);
    assert_int_equal(al[0].distinct, 120);
    assert_int_equal(al[0].unanswered, 120);
    assert_int_equal(al[0].icmp_unreachable, 120);
    rig_free(&r);
}

static void test_scan_brute_force(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    /* 60 connections to one SSH server, each refused */
    for (uint16_t i = 0; i < 60; i++) {
        uint64_t t = 3 * SEC + (uint64_t)i * 500 * MSEC;
        uint16_t sport = (uint16_t)(30000 + i);
        struct ns_packet s =
            pkt(NS_IPPROTO_TCP, "192.0.2.7", sport, "198.51.100.22", 22, NS_TCP_SYN, t);
        rig_send(&r, &s);
        struct ns_packet a = pkt(NS_IPPROTO_TCP, "198.51.100.22", 22, "192.0.2.7", sport,
                                 NS_TCP_RST | NS_TCP_ACK, t + MSEC);
        rig_send(&r, &a);
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_BRUTE_FORCE);
    assert_addr(&al[0].attacker, "192.0.2.7");
    assert_addr(&al[0].victim, "198.51.100.22");
    assert_int_equal(al[0].port, 22);
    assert_int_equal(al[0].refused, 60);
    assert_int_equal(al[0].attempts, 60);
    rig_free(&r);
}

static void complete_conn(struct rig *r, const char *c, uint16_t sport, const char *s,
                          uint16_t dport, uint64_t t)
{
    struct ns_packet p = pkt(NS_IPPROTO_TCP, c, sport, s, dport, NS_TCP_SYN, t);
    rig_send(r, &p);
    p = pkt(NS_IPPROTO_TCP, s, dport, c, sport, NS_TCP_SYN | NS_TCP_ACK, t + 1000);
    rig_send(r, &p);
    p = pkt(NS_IPPROTO_TCP, c, sport, s, dport, NS_TCP_ACK, t + 2000);
    rig_send(r, &p);
}

static void test_scan_quiet_shapes(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, NULL);
    char dst[32];
    /* a browser: 300 completed connections to 300 servers on 443 ... */
    for (int i = 0; i < 300; i++) {
        snprintf(dst, sizeof(dst), "203.0.%d.%d", i / 250, i % 250 + 1);
        complete_conn(&r, "10.0.0.5", (uint16_t)(40000 + i), dst, 443, SEC + (uint64_t)i * MSEC);
    }
    /* ... 200 completed connections to one server's port 80, passive-FTP-like data
     * connections to 150 ports of one server ... */
    for (int i = 0; i < 200; i++) {
        complete_conn(&r, "10.0.0.5", (uint16_t)(20000 + i), "198.51.100.1", 80,
                      2 * SEC + (uint64_t)i * MSEC);
    }
    for (int i = 0; i < 150; i++) {
        complete_conn(&r, "10.0.0.5", (uint16_t)(10000 + i), "198.51.100.2", (uint16_t)(50000 + i),
                      3 * SEC + (uint64_t)i * MSEC);
    }
    /* ... and a slow scan: 60 closed ports, then 60 more two minutes later (window 60 s) */
    for (int i = 0; i < 120; i++) {
        uint64_t t = 10 * SEC + (i < 60 ? 0 : 120 * SEC) + (uint64_t)i * MSEC;
        struct ns_packet s = pkt(NS_IPPROTO_TCP, "10.0.0.6", 45000, "198.51.100.3",
                                 (uint16_t)(100 + i), NS_TCP_SYN, t);
        rig_send(&r, &s);
        struct ns_packet a = pkt(NS_IPPROTO_TCP, "198.51.100.3", (uint16_t)(100 + i), "10.0.0.6",
                                 45000, NS_TCP_RST | NS_TCP_ACK, t + 1000);
        rig_send(&r, &a);
    }
    size_t n = 0;
    rig_finish(&r, &n);
    assert_int_equal(n, 0);
    struct ns_scan_stats st;
    ns_scan_get_stats(r.sc, &st);
    assert_int_equal(st.attempts, 300 + 200 + 150 + 120);
    assert_int_equal(st.alerts, 0);
    rig_free(&r);

    /* the same slow scan with a 200 s window is caught */
    struct ns_scan_opts o;
    memset(&o, 0, sizeof(o));
    o.window_ns = 200 * SEC;
    rig_init(&r, &o);
    for (int i = 0; i < 120; i++) {
        uint64_t t = 10 * SEC + (i < 60 ? 0 : 120 * SEC) + (uint64_t)i * MSEC;
        struct ns_packet s = pkt(NS_IPPROTO_TCP, "10.0.0.6", 45000, "198.51.100.3",
                                 (uint16_t)(100 + i), NS_TCP_SYN, t);
        rig_send(&r, &s);
    }
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(al[0].kind, NS_SCAN_VERTICAL);
    assert_int_equal(al[0].distinct, 120);
    rig_free(&r);
}

static void test_scan_bounds(void **state)
{
    (void)state;
    /* 4 trackers at most (a TCP attempt touches 4: vertical, horizontal, flood and brute force
     * keys), 1 alert kept: 3 brute-force shapes from 3 attackers, one after the other */
    struct ns_scan_opts o;
    memset(&o, 0, sizeof(o));
    o.max_trackers = 4;
    o.max_alerts = 1;
    o.brute_failures = 5;
    struct rig r;
    rig_init(&r, &o);
    static const char *const att[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3"};
    for (int k = 0; k < 3; k++) {
        for (uint16_t i = 0; i < 5; i++) {
            uint64_t t = (uint64_t)(k * 10 + i) * SEC;
            struct ns_packet s = pkt(NS_IPPROTO_TCP, att[k], (uint16_t)(1000 + i), "198.51.100.9",
                                     23, NS_TCP_SYN, t);
            rig_send(&r, &s);
        }
        ns_flow_table_flush(r.ft); /* end the flows of this attacker now */
    }
    size_t n = 0;
    const struct ns_scan_alert *al = rig_finish(&r, &n);
    struct ns_scan_stats st;
    ns_scan_get_stats(r.sc, &st);
    assert_int_equal(st.alerts, 3);
    assert_int_equal(st.alerts_dropped, 2);
    assert_int_equal(n, 1);
    assert_addr(&al[0].attacker, "192.0.2.1");
    assert_int_equal(r.nseen, 3); /* the callback saw all three */
    assert_addr(&r.seen[2].attacker, "192.0.2.3");
    assert_true(st.trackers <= 4);
    assert_true(st.trackers_evicted > 0);
    rig_free(&r);
}

static void test_scan_alloc_failures(void **state)
{
    (void)state;
    for (uint64_t n = 1; n < 8; n++) {
        struct ns_scan *s = NULL;
        ns_alloc_fail_at(n);
        int rc = ns_scan_new(&s, NULL, NULL, NULL);
        ns_alloc_fail_at(0);
        if (rc == 0) {
            ns_scan_free(s);
            break;
        }
        assert_int_equal(rc, NS_ENOMEM);
        assert_null(s);
    }
    /* allocation failures while tracking: counted, never a crash */
    struct rig r;
    rig_init(&r, NULL);
    ns_alloc_fail_at(3);
    for (uint16_t i = 0; i < 20; i++) {
        struct ns_packet s = pkt(NS_IPPROTO_TCP, "192.0.2.1", 999, "192.0.2.2", (uint16_t)(i + 1),
                                 NS_TCP_SYN, SEC + i);
        struct ns_flow *f = NULL;
        int dir = 0;
        ns_flow_table_update(r.ft, &s, 1, 60, &f, &dir);
    }
    ns_flow_table_flush(r.ft);
    ns_alloc_fail_at(0);
    rig_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_vertical),
        cmocka_unit_test(test_scan_horizontal),
        cmocka_unit_test(test_scan_syn_flood_spoofed),
        cmocka_unit_test(test_scan_icmp_sweep),
        cmocka_unit_test(test_scan_udp),
        cmocka_unit_test(test_scan_brute_force),
        cmocka_unit_test(test_scan_quiet_shapes),
        cmocka_unit_test(test_scan_bounds),
        cmocka_unit_test(test_scan_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
