/*
 * test_analyze_hosts.c - the per-host table (netsift/hosts.h): counters in
 * both directions, first / last seen, the host cap with LRU eviction and
 * country sums that still include evicted hosts, MAC attribution by TTL,
 * the peers sketch (exact to 8, HyperLogLog above), Space-Saving top
 * ports, the OS choice order, alerts, windows, sorting, and allocation
 * failures.
 *
 * Packets and flows are built by hand (the table reads only decoded fields
 * and the flow's per-direction packet counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/hosts.h"

#define SEC ((uint64_t)1000000000)

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

static const uint8_t mac_a[6] = {0x00, 0x03, 0xb1, 0xb5, 0xb6, 0x48};
static const uint8_t mac_b[6] = {0x00, 0x0c, 0x29, 0x11, 0x22, 0x33};

static struct ns_packet pkt(const char *src, const char *dst, uint8_t proto, uint16_t sport,
                            uint16_t dport, uint64_t ts, uint32_t len)
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
    p.ts_ns = ts;
    p.wirelen = len;
    p.caplen = len;
    p.ttl = 64;
    return p;
}

static void test_hosts_counters(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    assert_int_equal(ns_hosts_new(&h, NULL), 0);
    struct ns_flow f;
    memset(&f, 0, sizeof(f));

    /* a TCP exchange: 3 packets client -> server, 2 back */
    struct ns_packet p = pkt("10.0.0.1", "10.0.0.2", NS_IPPROTO_TCP, 40000, 80, 5 * SEC, 60);
    p.tcp_flags = NS_TCP_SYN;
    f.packets[0] = 1;
    assert_int_equal(ns_hosts_packet(h, &p, &f, 0), 0);
    struct ns_packet r = pkt("10.0.0.2", "10.0.0.1", NS_IPPROTO_TCP, 80, 40000, 6 * SEC, 60);
    r.tcp_flags = NS_TCP_SYN | NS_TCP_ACK;
    f.packets[1] = 1;
    assert_int_equal(ns_hosts_packet(h, &r, &f, 1), 0);
    p.tcp_flags = NS_TCP_ACK;
    p.wirelen = 1000;
    p.ts_ns = 7 * SEC;
    f.packets[0] = 2;
    ns_hosts_packet(h, &p, &f, 0);
    f.packets[0] = 3;
    p.ts_ns = 4 * SEC; /* out of order: first_seen moves back */
    ns_hosts_packet(h, &p, &f, 0);
    r.tcp_flags = NS_TCP_ACK;
    r.wirelen = 1500;
    f.packets[1] = 2;
    ns_hosts_packet(h, &r, &f, 1);

    struct ns_addr a1 = addr("10.0.0.1");
    struct ns_addr a2 = addr("10.0.0.2");
    const struct ns_host *c = ns_hosts_find(h, &a1);
    const struct ns_host *s = ns_hosts_find(h, &a2);
    assert_non_null(c);
    assert_non_null(s);
    assert_int_equal(c->total.packets_sent, 3);
    assert_int_equal(c->total.bytes_sent, 60 + 1000 + 1000);
    assert_int_equal(c->total.packets_recv, 2);
    assert_int_equal(c->total.bytes_recv, 60 + 1500);
    assert_int_equal(s->total.packets_sent, 2);
    assert_int_equal(s->total.bytes_recv, 2060);
    assert_int_equal(c->first_ns, 4 * SEC);
    assert_int_equal(c->last_ns, 7 * SEC);
    assert_int_equal(ns_host_peers(c), 1);
    assert_int_equal(c->flows_opened, 1);
    assert_int_equal(c->ncontacted, 1);
    assert_int_equal(c->contacted[0].port, 80);
    assert_int_equal(c->contacted[0].proto, NS_IPPROTO_TCP);
    assert_int_equal(c->contacted[0].count, 1);
    assert_int_equal(s->flows_answered, 1);
    assert_int_equal(s->nserved, 1);
    assert_int_equal(s->served[0].port, 80);
    assert_int_equal(s->ncontacted, 0);

    /* a RST answer does not make the host a server of the port */
    memset(&f, 0, sizeof(f));
    p = pkt("10.0.0.1", "10.0.0.2", NS_IPPROTO_TCP, 40001, 81, 8 * SEC, 60);
    p.tcp_flags = NS_TCP_SYN;
    f.packets[0] = 1;
    ns_hosts_packet(h, &p, &f, 0);
    r = pkt("10.0.0.2", "10.0.0.1", NS_IPPROTO_TCP, 81, 40001, 8 * SEC, 60);
    r.tcp_flags = NS_TCP_RST | NS_TCP_ACK;
    f.packets[1] = 1;
    ns_hosts_packet(h, &r, &f, 1);
    s = ns_hosts_find(h, &a2);
    assert_int_equal(s->nserved, 1);
    c = ns_hosts_find(h, &a1);
    assert_int_equal(c->ncontacted, 2);

    struct ns_hosts_stats st;
    ns_hosts_get_stats(h, &st);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.active, 2);
    assert_int_equal(st.packets, 7);

    /* a packet to itself (loopback): sent and received by the same host, no peer */
    p = pkt("127.0.0.1", "127.0.0.1", NS_IPPROTO_UDP, 5000, 9000, 9 * SEC, 100);
    ns_hosts_packet(h, &p, NULL, 0);
    struct ns_addr lo = addr("127.0.0.1");
    const struct ns_host *l = ns_hosts_find(h, &lo);
    assert_int_equal(l->total.packets_sent, 1);
    assert_int_equal(l->total.packets_recv, 1);
    assert_int_equal(l->total.bytes_recv, 100);
    assert_int_equal(ns_host_peers(l), 0);
    ns_hosts_free(h);
}

static void test_hosts_cap_eviction(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    struct ns_hosts_opts o = {.max_hosts = 4, .geo = NULL};
    assert_int_equal(ns_hosts_new(&h, &o), 0);
    char src[32];
    /* 10 hosts each send one 100-byte packet to 8.8.8.8: 11 addresses through a table of 4
     * (10 s apart: the LRU order is kept to within a second) */
    for (int i = 1; i <= 10; i++) {
        snprintf(src, sizeof(src), "192.168.1.%d", i);
        struct ns_packet p =
            pkt(src, "8.8.8.8", NS_IPPROTO_UDP, 5000, 53, (uint64_t)i * 10 * SEC, 100);
        assert_int_equal(ns_hosts_packet(h, &p, NULL, 0), 0);
    }
    struct ns_hosts_stats st;
    ns_hosts_get_stats(h, &st);
    assert_int_equal(st.active, 4);
    assert_int_equal(st.active_max, 4);
    assert_int_equal(st.created, 11);
    assert_int_equal(st.evicted, 7);

    /* 8.8.8.8 is touched by every packet: never the least recently seen */
    struct ns_addr dns = addr("8.8.8.8");
    const struct ns_host *d = ns_hosts_find(h, &dns);
    assert_non_null(d);
    assert_int_equal(d->total.packets_recv, 10);
    uint64_t peers = ns_host_peers(d); /* 10 peers: past the exact set, an estimate */
    assert_true(peers >= 9 && peers <= 12);
    struct ns_addr old = addr("192.168.1.1");
    assert_null(ns_hosts_find(h, &old));
    struct ns_addr recent = addr("192.168.1.10");
    assert_non_null(ns_hosts_find(h, &recent));

    /* the list: 8.8.8.8 first (1000 bytes), then the 3 senders by address */
    const struct ns_host **list = NULL;
    size_t n = 0;
    assert_int_equal(ns_hosts_list(h, false, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_ptr_equal(list[0], d);
    char buf[64];
    assert_string_equal(ns_addr_format(&list[1]->addr, buf, sizeof(buf)), "192.168.1.8");
    assert_string_equal(ns_addr_format(&list[2]->addr, buf, sizeof(buf)), "192.168.1.9");
    assert_string_equal(ns_addr_format(&list[3]->addr, buf, sizeof(buf)), "192.168.1.10");
    ns_free(list);

    /* countries: evicted hosts still counted */
    struct ns_country *cs = NULL;
    assert_int_equal(ns_hosts_countries(h, NULL, false, &cs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(cs[0].key, "private");
    assert_false(cs[0].is_country);
    assert_int_equal(cs[0].hosts, 10);
    assert_int_equal(cs[0].c.packets_sent, 10);
    assert_int_equal(cs[0].c.bytes_sent, 1000);
    assert_string_equal(cs[1].key, "unknown"); /* public, no database */
    assert_int_equal(cs[1].hosts, 1);
    assert_int_equal(cs[1].c.bytes_recv, 1000);
    ns_free(cs);

    /* a table of one host: the sender gives way to the receiver, nothing breaks */
    ns_hosts_free(h);
    o.max_hosts = 1;
    assert_int_equal(ns_hosts_new(&h, &o), 0);
    struct ns_packet p = pkt("10.0.0.1", "10.0.0.2", NS_IPPROTO_UDP, 1, 2, SEC, 100);
    assert_int_equal(ns_hosts_packet(h, &p, NULL, 0), 0);
    ns_hosts_get_stats(h, &st);
    assert_int_equal(st.active, 1);
    assert_int_equal(st.evicted, 1);
    ns_hosts_free(h);
}

static void test_hosts_eviction_random(void **state)
{
    (void)state;
    /* 20000 random addresses through 1000 slots: the index and the LRU stay consistent */
    struct ns_hosts *h = NULL;
    struct ns_hosts_opts o = {.max_hosts = 1000, .geo = NULL};
    assert_int_equal(ns_hosts_new(&h, &o), 0);
    uint64_t x = 12345;
    char a[32];
    char b[32];
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(a, sizeof(a), "10.%u.%u.%u", (unsigned)(x >> 56) & 7, (unsigned)(x >> 48) & 255,
                 (unsigned)(x >> 40) & 255);
        snprintf(b, sizeof(b), "172.16.%u.%u", (unsigned)(x >> 32) & 3, (unsigned)(x >> 24) & 255);
        struct ns_packet p = pkt(a, b, NS_IPPROTO_UDP, 1, 2, (uint64_t)i, 64);
        assert_int_equal(ns_hosts_packet(h, &p, NULL, 0), 0);
        struct ns_addr sa = addr(a);
        struct ns_addr da = addr(b);
        assert_non_null(ns_hosts_find(h, &sa));
        assert_non_null(ns_hosts_find(h, &da));
    }
    struct ns_hosts_stats st;
    ns_hosts_get_stats(h, &st);
    assert_int_equal(st.active, 1000);
    assert_int_equal(st.created - st.evicted, 1000);
    const struct ns_host **list = NULL;
    size_t n = 0;
    assert_int_equal(ns_hosts_list(h, false, &list, &n), 0);
    assert_int_equal(n, 1000);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(ns_hosts_find(h, &list[i]->addr), list[i]);
    }
    ns_free(list);
    ns_hosts_free(h);
}

static void test_hosts_mac_by_ttl(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    assert_int_equal(ns_hosts_new(&h, NULL), 0);
    /* a local host at TTL 64: its MAC */
    struct ns_packet p = pkt("10.0.0.155", "10.0.0.126", NS_IPPROTO_TCP, 1, 6661, SEC, 60);
    p.mac_src = mac_a;
    p.mac_dst = mac_b;
    ns_hosts_packet(h, &p, NULL, 0);
    /* a remote host seen through a router (TTL 57) from the router's MAC: not attributed */
    struct ns_packet r = pkt("93.184.216.34", "10.0.0.155", NS_IPPROTO_TCP, 80, 1, SEC, 60);
    r.ttl = 57;
    r.mac_src = mac_b;
    ns_hosts_packet(h, &r, NULL, 0);
    struct ns_addr a = addr("10.0.0.155");
    struct ns_addr b = addr("93.184.216.34");
    const struct ns_host *x = ns_hosts_find(h, &a);
    assert_true(x->has_mac);
    assert_memory_equal(x->mac, mac_a, 6);
    assert_int_equal(x->mac_changes, 0);
    assert_false(ns_hosts_find(h, &b)->has_mac);
    struct ns_addr c = addr("10.0.0.126");
    assert_false(ns_hosts_find(h, &c)->has_mac); /* a destination MAC is never attributed */

    /* the same IP from another MAC (TTL 128): the new one, one change counted */
    p.ttl = 128;
    p.mac_src = mac_b;
    ns_hosts_packet(h, &p, NULL, 0);
    x = ns_hosts_find(h, &a);
    assert_memory_equal(x->mac, mac_b, 6);
    assert_int_equal(x->mac_changes, 1);
    ns_hosts_free(h);
}

static void test_hosts_peers_sketch(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    assert_int_equal(ns_hosts_new(&h, NULL), 0);
    char dst[32];
    struct ns_addr me = addr("10.1.1.1");
    for (int i = 0; i < 8; i++) {
        snprintf(dst, sizeof(dst), "10.2.0.%d", i + 1);
        struct ns_packet p = pkt("10.1.1.1", dst, NS_IPPROTO_UDP, 1, 2, SEC, 60);
        ns_hosts_packet(h, &p, NULL, 0);
        ns_hosts_packet(h, &p, NULL, 0); /* repeats do not count */
    }
    assert_int_equal(ns_host_peers(ns_hosts_find(h, &me)), 8);
    struct ns_packet p = pkt("10.1.1.1", "10.2.0.9", NS_IPPROTO_UDP, 1, 2, SEC, 60);
    ns_hosts_packet(h, &p, NULL, 0);
    uint64_t nine = ns_host_peers(ns_hosts_find(h, &me));
    assert_true(nine >= 9 && nine <= 11);
    for (int i = 0; i < 2000; i++) {
        snprintf(dst, sizeof(dst), "10.3.%d.%d", i / 250, i % 250 + 1);
        p = pkt("10.1.1.1", dst, NS_IPPROTO_UDP, 1, 2, SEC, 60);
        ns_hosts_packet(h, &p, NULL, 0);
    }
    /* 2009 distinct peers; 64 registers give about 13% standard error: allow 3 sigma */
    uint64_t est = ns_host_peers(ns_hosts_find(h, &me));
    assert_true(est > 2009 * 0.6 && est < 2009 * 1.4);
    ns_hosts_free(h);
}

static void test_hosts_top_ports(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    assert_int_equal(ns_hosts_new(&h, NULL), 0);
    struct ns_flow f;
    struct ns_addr me = addr("10.1.1.1");
    /* port 443 in 100 flows, 53 in 50, then 200 one-off ports: 443 and 53 stay, exact */
    for (int i = 0; i < 350; i++) {
        uint16_t port = i < 100 ? 443 : i < 150 ? 53 : (uint16_t)(10000 + i);
        memset(&f, 0, sizeof(f));
        f.packets[0] = 1;
        struct ns_packet p = pkt("10.1.1.1", "10.9.9.9", NS_IPPROTO_TCP, 30000, port, SEC, 60);
        ns_hosts_packet(h, &p, &f, 0);
    }
    const struct ns_host *x = ns_hosts_find(h, &me);
    assert_int_equal(x->ncontacted, NS_HOST_TOP_PORTS);
    bool saw443 = false;
    bool saw53 = false;
    for (int i = 0; i < x->ncontacted; i++) {
        if (x->contacted[i].port == 443) {
            saw443 = true;
            assert_int_equal(x->contacted[i].count, 100);
            assert_int_equal(x->contacted[i].error, 0);
        } else if (x->contacted[i].port == 53) {
            saw53 = true;
            assert_int_equal(x->contacted[i].count, 50);
        } else {
            assert_true(x->contacted[i].count - x->contacted[i].error <= 1);
        }
    }
    assert_true(saw443);
    assert_true(saw53);
    assert_int_equal(x->flows_opened, 350);
    ns_hosts_free(h);
}

static struct ns_p0f_result os_result(enum ns_p0f_match m, const char *name)
{
    struct ns_p0f_result r;
    memset(&r, 0, sizeof(r));
    r.match = m;
    r.os = name;
    r.flavor = "";
    r.dist = 0;
    snprintf(r.raw_sig, sizeof(r.raw_sig), "sig-%s", name);
    return r;
}

static void test_hosts_os_choice(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    assert_int_equal(ns_hosts_new(&h, NULL), 0);
    struct ns_packet p = pkt("10.1.1.1", "10.1.1.2", NS_IPPROTO_TCP, 1, 2, SEC, 60);
    ns_hosts_packet(h, &p, NULL, 0);
    struct ns_addr a = addr("10.1.1.1");
    struct ns_addr nobody = addr("10.9.9.9");
    assert_true(ns_hosts_wants_os(h, &a, false));
    assert_false(ns_hosts_wants_os(h, &nobody, true));

    struct ns_p0f_result r = os_result(NS_P0F_GENERIC, "generic-synack");
    ns_hosts_offer_os(h, &a, &r, false);
    r = os_result(NS_P0F_NONE, "none-syn");
    ns_hosts_offer_os(h, &a, &r, true); /* none ranks below generic, even from a SYN */
    assert_string_equal(ns_hosts_find(h, &a)->os.os, "generic-synack");
    r = os_result(NS_P0F_GENERIC, "generic-syn");
    ns_hosts_offer_os(h, &a, &r, true); /* same quality, SYN wins */
    assert_string_equal(ns_hosts_find(h, &a)->os.os, "generic-syn");
    r = os_result(NS_P0F_FUZZY, "fuzzy-synack");
    ns_hosts_offer_os(h, &a, &r, false);
    assert_string_equal(ns_hosts_find(h, &a)->os.os, "fuzzy-synack");
    r = os_result(NS_P0F_EXACT, "exact-synack");
    ns_hosts_offer_os(h, &a, &r, false);
    assert_true(ns_hosts_wants_os(h, &a, true));   /* an exact SYN would still be better */
    assert_false(ns_hosts_wants_os(h, &a, false)); /* another SYN+ACK would not */
    r = os_result(NS_P0F_EXACT, "exact-synack-2");
    ns_hosts_offer_os(h, &a, &r, false); /* a tie: the first stays */
    assert_string_equal(ns_hosts_find(h, &a)->os.os, "exact-synack");
    r = os_result(NS_P0F_EXACT, "exact-syn");
    ns_hosts_offer_os(h, &a, &r, true);
    const struct ns_host *x = ns_hosts_find(h, &a);
    assert_string_equal(x->os.os, "exact-syn");
    assert_string_equal(x->os.raw_sig, "sig-exact-syn");
    assert_true(x->os_syn);
    assert_false(ns_hosts_wants_os(h, &a, true));
    r = os_result(NS_P0F_FUZZY, "late-fuzzy");
    ns_hosts_offer_os(h, &a, &r, true);
    assert_string_equal(ns_hosts_find(h, &a)->os.os, "exact-syn");

    /* a host stuck at a generic answer gets NS_HOSTS_OS_TRIES fingerprints per kind */
    struct ns_addr b = addr("10.1.1.2");
    for (int i = 0; i < NS_HOSTS_OS_TRIES; i++) {
        assert_true(ns_hosts_wants_os(h, &b, true));
        r = os_result(NS_P0F_GENERIC, "generic");
        ns_hosts_offer_os(h, &b, &r, true);
    }
    assert_false(ns_hosts_wants_os(h, &b, true));
    assert_true(ns_hosts_wants_os(h, &b, false)); /* SYN+ACKs are counted apart */

    ns_hosts_note_alert(h, &a, 0, true);
    ns_hosts_note_alert(h, &a, 2, false);
    ns_hosts_note_alert(h, &nobody, 2, false); /* not in the table: ignored */
    x = ns_hosts_find(h, &a);
    assert_int_equal(x->alerts_attacker, 1);
    assert_int_equal(x->alerts_victim, 1);
    assert_int_equal(x->alert_kinds, 0x5);
    ns_hosts_free(h);
}

static void test_hosts_windows(void **state)
{
    (void)state;
    struct ns_hosts *h = NULL;
    assert_int_equal(ns_hosts_new(&h, NULL), 0);
    struct ns_packet p = pkt("10.0.0.1", "10.0.0.2", NS_IPPROTO_UDP, 1, 2, SEC, 100);
    ns_hosts_packet(h, &p, NULL, 0);
    ns_hosts_window(h);
    p = pkt("10.0.0.3", "10.0.0.2", NS_IPPROTO_UDP, 1, 2, 11 * SEC, 300);
    ns_hosts_packet(h, &p, NULL, 0);
    ns_hosts_packet(h, &p, NULL, 0);

    const struct ns_host **list = NULL;
    size_t n = 0;
    char buf[64];
    assert_int_equal(ns_hosts_list(h, true, &list, &n), 0);
    assert_int_equal(n, 2); /* 10.0.0.1 was quiet in this window */
    assert_string_equal(ns_addr_format(&list[0]->addr, buf, sizeof(buf)), "10.0.0.2");
    assert_int_equal(list[0]->win.bytes_recv, 600);
    assert_int_equal(list[0]->total.bytes_recv, 700);
    assert_string_equal(ns_addr_format(&list[1]->addr, buf, sizeof(buf)), "10.0.0.3");
    ns_free(list);

    struct ns_country *cs = NULL;
    assert_int_equal(ns_hosts_countries(h, NULL, true, &cs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cs[0].hosts, 2);
    assert_int_equal(cs[0].c.bytes_sent, 600);
    assert_int_equal(cs[0].c.bytes_recv, 600);
    ns_free(cs);
    ns_hosts_free(h);
}

static void test_hosts_countries_geo(void **state)
{
    (void)state;
    if (access(NS_SHARED_DATA "/mmdb/GeoIP2-Country-Test.mmdb", R_OK) != 0) {
        fprintf(stderr, "skip: shared mmdb data not present\n");
        skip();
    }
    struct ns_geo *g = NULL;
    struct ns_error err;
    assert_int_equal(ns_geo_new(&g), 0);
    assert_int_equal(ns_geo_open(g, NS_SHARED_DATA "/mmdb/GeoIP2-Country-Test.mmdb", &err), 0);
    struct ns_hosts *h = NULL;
    struct ns_hosts_opts o = {.max_hosts = 2, .geo = g};
    assert_int_equal(ns_hosts_new(&h, &o), 0);
    /* 81.2.69.160 (GB) is evicted by 89.160.20.112 (SE); 2.125.160.216 (GB) stays */
    struct ns_packet p = pkt("10.0.0.1", "81.2.69.160", NS_IPPROTO_UDP, 1, 2, 10 * SEC, 100);
    ns_hosts_packet(h, &p, NULL, 0);
    p = pkt("10.0.0.1", "2.125.160.216", NS_IPPROTO_UDP, 1, 2, 20 * SEC, 200);
    ns_hosts_packet(h, &p, NULL, 0);
    p = pkt("10.0.0.1", "89.160.20.112", NS_IPPROTO_UDP, 1, 2, 30 * SEC, 50);
    ns_hosts_packet(h, &p, NULL, 0);
    struct ns_country *cs = NULL;
    size_t n = 0;
    assert_int_equal(ns_hosts_countries(h, g, false, &cs, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(cs[0].key, "private"); /* 350 bytes sent */
    assert_int_equal(cs[0].hosts, 1);
    assert_string_equal(cs[1].key, "GB");
    assert_true(cs[1].is_country);
    assert_int_equal(cs[1].hosts, 2);
    assert_int_equal(cs[1].c.bytes_recv, 300);
    assert_string_equal(cs[2].key, "SE");
    assert_int_equal(cs[2].c.bytes_recv, 50);
    ns_free(cs);
    ns_hosts_free(h);
    ns_geo_free(g);
}

/* Flow table -> hosts, in one of the two counting modes. */
struct fe_rig {
    struct ns_hosts *h;
};

static void fe_on_end(void *ud, struct ns_flow *f)
{
    struct fe_rig *r = ud;
    assert_int_equal(ns_hosts_flow_end(r->h, f), 0);
}

static struct ns_hosts *run_mode(bool at_flow_end, size_t max_hosts)
{
    struct fe_rig r;
    struct ns_flow_table *ft = NULL;
    struct ns_flow_opts fo;
    struct ns_hosts_opts ho = {
        .max_hosts = max_hosts, .geo = NULL, .count_at_flow_end = at_flow_end};
    memset(&fo, 0, sizeof(fo));
    fo.on_end = fe_on_end;
    fo.ud = &r;
    assert_int_equal(ns_hosts_new(&r.h, &ho), 0);
    assert_int_equal(ns_flow_table_new(&ft, &fo), 0);
    uint64_t x = 99;
    char a[32];
    char b[32];
    for (int i = 0; i < 5000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned ha = (unsigned)(x >> 60);
        unsigned hb = (unsigned)(x >> 56) & 15;
        snprintf(a, sizeof(a), "10.0.0.%u", ha);
        snprintf(b, sizeof(b), "10.0.1.%u", hb);
        bool fwd = (x >> 40) & 1;
        uint16_t port = (uint16_t)(1000 + ((x >> 32) & 7));
        struct ns_packet p = fwd ? pkt(a, b, NS_IPPROTO_UDP, port, 53, (uint64_t)i * SEC / 10,
                                       (uint32_t)(60 + (x >> 20) % 1000))
                                 : pkt(b, a, NS_IPPROTO_UDP, 53, port, (uint64_t)i * SEC / 10,
                                       (uint32_t)(60 + (x >> 20) % 1000));
        struct ns_flow *f = NULL;
        int dir = 0;
        assert_int_equal(ns_flow_table_update(ft, &p, 1, p.wirelen, &f, &dir), 0);
        assert_int_equal(ns_hosts_packet(r.h, &p, f, dir), 0);
    }
    ns_flow_table_free(ft); /* ends every flow */
    return r.h;
}

static void test_hosts_count_at_flow_end(void **state)
{
    (void)state;
    /* the same traffic counted per packet and at flow end gives the same hosts */
    struct ns_hosts *pp = run_mode(false, 0);
    struct ns_hosts *fe = run_mode(true, 0);
    const struct ns_host **l1 = NULL;
    const struct ns_host **l2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;
    assert_int_equal(ns_hosts_list(pp, false, &l1, &n1), 0);
    assert_int_equal(ns_hosts_list(fe, false, &l2, &n2), 0);
    assert_int_equal(n1, 32);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1; i++) {
        assert_memory_equal(&l1[i]->addr, &l2[i]->addr, sizeof(l1[i]->addr));
        assert_memory_equal(&l1[i]->total, &l2[i]->total, sizeof(l1[i]->total));
        assert_int_equal(l1[i]->first_ns, l2[i]->first_ns);
        assert_int_equal(l1[i]->last_ns, l2[i]->last_ns);
        assert_int_equal(ns_host_peers(l1[i]), ns_host_peers(l2[i]));
        assert_int_equal(l1[i]->flows_opened, l2[i]->flows_opened);
        assert_int_equal(l1[i]->ncontacted, l2[i]->ncontacted);
    }
    ns_free(l1);
    ns_free(l2);
    ns_hosts_free(pp);
    ns_hosts_free(fe);

    /* with a table of 8 for 32 hosts (evictions while flows still point at slots): the
     * country sums still hold every byte, in both modes */
    uint64_t sums[2] = {0, 0};
    for (int m = 0; m < 2; m++) {
        struct ns_hosts *h = run_mode(m == 1, 8);
        struct ns_country *cs = NULL;
        size_t n = 0;
        struct ns_hosts_stats st;
        ns_hosts_get_stats(h, &st);
        assert_true(st.evicted > 0);
        assert_int_equal(st.active, 8);
        assert_int_equal(ns_hosts_countries(h, NULL, false, &cs, &n), 0);
        for (size_t i = 0; i < n; i++) {
            sums[m] += cs[i].c.bytes_sent;
        }
        ns_free(cs);
        ns_hosts_free(h);
    }
    assert_int_equal(sums[0], sums[1]);
}

static void test_hosts_alloc_failures(void **state)
{
    (void)state;
    for (uint64_t n = 1; n < 16; n++) {
        struct ns_hosts *h = NULL;
        ns_alloc_fail_at(n);
        int rc = ns_hosts_new(&h, NULL);
        if (rc == 0) {
            struct ns_packet p = pkt("10.0.0.1", "10.0.0.2", NS_IPPROTO_UDP, 1, 2, SEC, 100);
            rc = ns_hosts_packet(h, &p, NULL, 0);
        }
        ns_alloc_fail_at(0);
        if (rc == 0) {
            ns_hosts_free(h);
            break;
        }
        assert_int_equal(rc, NS_ENOMEM);
        if (h != NULL) {
            struct ns_hosts_stats st;
            ns_hosts_get_stats(h, &st);
            assert_int_equal(st.no_memory, 1);
            ns_hosts_free(h);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_counters),
        cmocka_unit_test(test_hosts_cap_eviction),
        cmocka_unit_test(test_hosts_eviction_random),
        cmocka_unit_test(test_hosts_mac_by_ttl),
        cmocka_unit_test(test_hosts_peers_sketch),
        cmocka_unit_test(test_hosts_top_ports),
        cmocka_unit_test(test_hosts_os_choice),
        cmocka_unit_test(test_hosts_windows),
        cmocka_unit_test(test_hosts_countries_geo),
        cmocka_unit_test(test_hosts_count_at_flow_end),
        cmocka_unit_test(test_hosts_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
