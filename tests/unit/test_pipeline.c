/*
 * test_pipeline.c - the whole loop source -> decode -> defrag -> flow table
 * (pipeline.h) on small captures written here, frame by frame.
 *
 * The capture is a classic pcap file (magic a1b2c3d4, microseconds,
 * LINKTYPE_ETHERNET) in /tmp:
 *
 *   global header (24 bytes)       record header (16 bytes) + frame
 *   +-------+----+----+---+---+---+  +-------+--------+--------+--------+
 *   | magic |2   |4   |tz |acc|snap|  |ts sec |ts usec |caplen  |wirelen |
 *   +-------+----+----+---+---+---+  +-------+--------+--------+--------+
 *
 * Frames are Ethernet II + IPv4 (RFC 791) + TCP (RFC 9293) or UDP (RFC 768),
 * built byte by byte with the IPv4 header checksum filled in. The main
 * capture holds a TCP connection (handshake, data, both FINs), a UDP query
 * and its answer, an ARP frame, a truncated IPv4 frame, and a UDP datagram
 * sent as two IPv4 fragments; the flow records, the counters and the
 * reassembled datagram (two frames, their wire lengths summed) are checked
 * exactly.
 *
 * With TCP reassembly switched on (opts.tcp), the order of the callbacks is
 * checked (stream data before on_packet, stream closes before on_flow_end),
 * and shared captures are reassembled: the same conversation captured in
 * order and shuffled (tcpflow's test5-lines) and with its sequence numbers
 * moved near 2^32 (PcapPlusPlus one_tcp_stream) must give the same bytes per
 * direction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netsift/err.h"
#include "netsift/pipeline.h"
#include "netsift/tcp.h"

#define T0 1709251200u /* 2024-03-01T00:00:00Z */

/* ---- building frames ---- */

struct frame {
    uint8_t b[1600];
    size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void putle16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void putle32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Ethernet II header: dst 02:00:00:00:00:0<d>, src 02:00:00:00:00:0<s>. */
static void eth(struct frame *f, uint8_t s, uint8_t d, uint16_t type)
{
    static const uint8_t base[6] = {0x02, 0, 0, 0, 0, 0};
    memcpy(f->b, base, 6);
    f->b[5] = d;
    memcpy(f->b + 6, base, 6);
    f->b[11] = s;
    put16(f->b + 12, type);
    f->len = 14;
}

/*
 * IPv4 header at offset 14 (no options) for 192.0.2.<s> -> 192.0.2.<d>:
 *
 *   0      4      8             16    19               31
 *   | ver=4| ihl=5| tos         | total length         |
 *   | identification            |flags| fragment offset|
 *   | ttl=64      | protocol    | header checksum      |
 *   | source address                                   |
 *   | destination address                              |
 */
static void ipv4(struct frame *f, uint8_t proto, uint8_t s, uint8_t d, uint16_t id,
                 uint16_t flags_off, size_t payload_len)
{
    uint8_t *h = f->b + 14;
    memset(h, 0, 20);
    h[0] = 0x45;
    put16(h + 2, (uint16_t)(20 + payload_len));
    put16(h + 4, id);
    put16(h + 6, flags_off);
    h[8] = 64;
    h[9] = proto;
    h[12] = 192;
    h[14] = 2;
    h[15] = s;
    h[16] = 192;
    h[18] = 2;
    h[19] = d;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    }
    while (sum > 0xffff) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    put16(h + 10, (uint16_t)~sum);
    f->len = 34;
}

/* TCP header (20 bytes, no options) at offset 34, then `plen` bytes of 'x'. */
static void tcp_frame(struct frame *f, uint8_t s, uint8_t d, uint16_t sport, uint16_t dport,
                      uint32_t seq, uint32_t ack, uint8_t flags, size_t plen)
{
    eth(f, s, d, 0x0800);
    ipv4(f, 6, s, d, 0x100, 0x4000, 20 + plen);
    uint8_t *t = f->b + 34;
    memset(t, 0, 20);
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    memset(t + 20, 'x', plen);
    f->len = 54 + plen;
}

/* UDP header (checksum 0: none) at offset 34, then `plen` bytes of 'u'. */
static void udp_frame(struct frame *f, uint8_t s, uint8_t d, uint16_t sport, uint16_t dport,
                      size_t plen)
{
    eth(f, s, d, 0x0800);
    ipv4(f, 17, s, d, 0x200, 0x4000, 8 + plen);
    uint8_t *u = f->b + 34;
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)(8 + plen));
    put16(u + 6, 0);
    memset(u + 8, 'u', plen);
    f->len = 42 + plen;
}

/*
 * The two fragments of one UDP datagram 192.0.2.5:7000 -> 192.0.2.6:9000
 * with 24 payload bytes (32 bytes of UDP): fragment 1 carries bytes 0..15
 * (the UDP header and 8 payload bytes, MF set), fragment 2 bytes 16..31
 * (offset 2 in 8-byte units, MF clear). Each frame is 14 + 20 + 16 = 50 bytes.
 */
static void frag_frame(struct frame *f, int which)
{
    eth(f, 5, 6, 0x0800);
    uint8_t *p = f->b + 34;
    if (which == 0) {
        ipv4(f, 17, 5, 6, 0x4242, 0x2000, 16);
        put16(p, 7000);
        put16(p + 2, 9000);
        put16(p + 4, 32);
        put16(p + 6, 0);
        memset(p + 8, 'a', 8);
    } else {
        ipv4(f, 17, 5, 6, 0x4242, 0x0002, 16);
        memset(p, 'b', 16);
    }
    f->len = 50;
}

/* ARP request who-has 192.0.2.2 tell 192.0.2.1 (RFC 826). */
static void arp_frame(struct frame *f)
{
    eth(f, 1, 0xff, 0x0806);
    memset(f->b, 0xff, 6);
    uint8_t *a = f->b + 14;
    put16(a, 1); /* hardware: Ethernet */
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1); /* request */
    memcpy(a + 8, f->b + 6, 6);
    a[14] = 192;
    a[15] = 0;
    a[16] = 2;
    a[17] = 1;
    memset(a + 18, 0, 6);
    a[24] = 192;
    a[25] = 0;
    a[26] = 2;
    a[27] = 2;
    f->len = 42;
}

/* An Ethernet frame that says IPv4 but holds only 10 bytes of its header. */
static void trunc_frame(struct frame *f)
{
    udp_frame(f, 1, 2, 1, 2, 0);
    f->len = 24;
}

/* ---- writing the capture ---- */

struct pcap_out {
    FILE *fp;
    char path[64];
};

static void pcap_open(struct pcap_out *o, const char *tag)
{
    uint8_t gh[24];
    snprintf(o->path, sizeof(o->path), "/tmp/ns_test_pipeline_%ld_%s.pcap", (long)getpid(), tag);
    o->fp = fopen(o->path, "wb");
    assert_non_null(o->fp);
    putle32(gh, 0xa1b2c3d4);
    putle16(gh + 4, 2);
    putle16(gh + 6, 4);
    putle32(gh + 8, 0);
    putle32(gh + 12, 0);
    putle32(gh + 16, 65535);
    putle32(gh + 20, 1); /* LINKTYPE_ETHERNET */
    assert_int_equal(fwrite(gh, 1, sizeof(gh), o->fp), sizeof(gh));
}

static void pcap_put(struct pcap_out *o, uint32_t sec, uint32_t usec, const struct frame *f)
{
    uint8_t rh[16];
    putle32(rh, sec);
    putle32(rh + 4, usec);
    putle32(rh + 8, (uint32_t)f->len);
    putle32(rh + 12, (uint32_t)f->len);
    assert_int_equal(fwrite(rh, 1, sizeof(rh), o->fp), sizeof(rh));
    assert_int_equal(fwrite(f->b, 1, f->len, o->fp), f->len);
}

static void pcap_close(struct pcap_out *o)
{
    assert_int_equal(fclose(o->fp), 0);
    o->fp = NULL;
}

#define C 1 /* client 192.0.2.1 */
#define S 2 /* server 192.0.2.2 */
#define D 3 /* DNS server 192.0.2.3 */

#define FIN 0x01
#define SYN 0x02
#define PSH 0x08
#define ACK 0x10

static void write_main_capture(struct pcap_out *o)
{
    struct frame f;
    pcap_open(o, "main");
    tcp_frame(&f, C, S, 40000, 80, 1000, 0, SYN, 0); /* 54 */
    pcap_put(o, T0, 1, &f);
    tcp_frame(&f, S, C, 80, 40000, 5000, 1001, SYN | ACK, 0); /* 54 */
    pcap_put(o, T0, 100, &f);
    tcp_frame(&f, C, S, 40000, 80, 1001, 5001, ACK, 0); /* 54 */
    pcap_put(o, T0, 200, &f);
    udp_frame(&f, C, D, 5353, 53, 8); /* 50 */
    pcap_put(o, T0, 300, &f);
    tcp_frame(&f, C, S, 40000, 80, 1001, 5001, PSH | ACK, 10); /* 64 */
    pcap_put(o, T0, 400, &f);
    udp_frame(&f, D, C, 53, 5353, 16); /* 58 */
    pcap_put(o, T0, 500, &f);
    tcp_frame(&f, S, C, 80, 40000, 5001, 1011, ACK, 0); /* 54 */
    pcap_put(o, T0, 600, &f);
    arp_frame(&f); /* 42, not IP */
    pcap_put(o, T0, 700, &f);
    trunc_frame(&f); /* 24, ipv4_truncated */
    pcap_put(o, T0, 800, &f);
    frag_frame(&f, 0); /* 50 */
    pcap_put(o, T0, 900, &f);
    frag_frame(&f, 1); /* 50 */
    pcap_put(o, T0, 1000, &f);
    tcp_frame(&f, C, S, 40000, 80, 1011, 5001, FIN | ACK, 0); /* 54 */
    pcap_put(o, T0, 1100, &f);
    tcp_frame(&f, S, C, 80, 40000, 5001, 1012, FIN | ACK, 0); /* 54 */
    pcap_put(o, T0, 1200, &f);
    tcp_frame(&f, C, S, 40000, 80, 1012, 5002, ACK, 0); /* 54 */
    pcap_put(o, T0, 1300, &f);
    pcap_close(o);
}

/* ---- collecting what the pipeline reports ---- */

#define MAX_LINES 8

struct seen {
    struct ns_pipeline *pl;
    struct ns_flow flows[MAX_LINES];
    size_t nflows;
    size_t npackets;
    size_t nreassembled;
    uint32_t reasm_flags;
    uint16_t reasm_sport;
    uint16_t reasm_dport;
    uint64_t reasm_fwd_packets;
    int reasm_dir;
    char errors[MAX_LINES][256];
    size_t nerrors;
    size_t nprogress;
    uint64_t progress_frames;
    uint64_t progress_bytes;
    size_t break_after; /* packets; 0 = never */
};

static void on_flow_end(void *ud, struct ns_flow *f)
{
    struct seen *s = ud;
    assert_true(s->nflows < MAX_LINES);
    s->flows[s->nflows++] = *f; /* the flow is valid only during the callback */
}

static void on_packet(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    struct seen *s = ud;
    assert_non_null(flow);
    s->npackets++;
    if (p->flags & NS_PKT_F_REASSEMBLED) {
        s->nreassembled++;
        s->reasm_flags = p->flags;
        s->reasm_sport = p->sport;
        s->reasm_dport = p->dport;
        s->reasm_fwd_packets = flow->packets[0];
        s->reasm_dir = dir;
    }
    if (s->break_after != 0 && s->npackets == s->break_after) {
        ns_pipeline_break(s->pl);
    }
}

static void on_error(void *ud, const struct ns_error *err)
{
    struct seen *s = ud;
    assert_true(s->nerrors < MAX_LINES);
    snprintf(s->errors[s->nerrors++], sizeof(s->errors[0]), "%s", err->msg);
}

static void on_progress(void *ud, uint64_t frames, uint64_t bytes)
{
    struct seen *s = ud;
    s->nprogress++;
    s->progress_frames = frames;
    s->progress_bytes = bytes;
}

/* Run the pipeline over `paths` with the given switches; returns run()'s code. */
static int run(struct seen *s, const char *const *paths, size_t npaths, bool no_defrag,
               struct ns_pipeline_stats *st)
{
    struct ns_pipeline_opts o;
    struct ns_error err;
    memset(&o, 0, sizeof(o));
    o.source.paths = paths;
    o.source.npaths = npaths;
    o.no_defrag = no_defrag;
    o.on_packet = on_packet;
    o.on_flow_end = on_flow_end;
    o.on_error = on_error;
    o.on_progress = on_progress;
    o.ud = s;
    assert_int_equal(ns_pipeline_new(&s->pl, &o, &err), 0);
    int rc = ns_pipeline_run(s->pl, &err);
    ns_pipeline_get_stats(s->pl, st);
    ns_pipeline_free(s->pl);
    s->pl = NULL;
    return rc;
}

/* A flow record as the schema shows it (docs/schema/README.md), field by field. */
struct want {
    uint8_t proto;
    const char *src;
    uint16_t sport;
    const char *dst;
    uint16_t dport;
    uint32_t first_us; /* microseconds after T0 */
    uint32_t last_us;
    uint64_t pkts_fwd;
    uint64_t pkts_rev;
    uint64_t bytes_fwd;
    uint64_t bytes_rev;
    uint8_t flags; /* OR of both directions */
    enum ns_flow_state state;
    enum ns_flow_end end;
    const char *community_id;
};

static void check_flow(const struct ns_flow *f, const struct want *w)
{
    struct ns_addr src;
    struct ns_addr dst;
    uint16_t sport = 0;
    uint16_t dport = 0;
    char a[64];
    char cid[64];

    ns_flow_endpoints(f, &src, &sport, &dst, &dport);
    assert_int_equal(f->key.ipver, 4);
    assert_int_equal(f->key.proto, w->proto);
    assert_int_equal(f->key.vlan, 0);
    assert_string_equal(ns_addr_format(&src, a, sizeof(a)), w->src);
    assert_int_equal(sport, w->sport);
    assert_string_equal(ns_addr_format(&dst, a, sizeof(a)), w->dst);
    assert_int_equal(dport, w->dport);
    assert_true(f->first_ns == (uint64_t)T0 * 1000000000u + (uint64_t)w->first_us * 1000u);
    assert_true(f->last_ns == (uint64_t)T0 * 1000000000u + (uint64_t)w->last_us * 1000u);
    assert_int_equal(f->packets[0], w->pkts_fwd);
    assert_int_equal(f->packets[1], w->pkts_rev);
    assert_int_equal(f->bytes[0], w->bytes_fwd);
    assert_int_equal(f->bytes[1], w->bytes_rev);
    assert_int_equal(f->tcp_flags[0] | f->tcp_flags[1], w->flags);
    assert_string_equal(ns_flow_state_name((enum ns_flow_state)f->state),
                        ns_flow_state_name(w->state));
    assert_string_equal(ns_flow_end_name((enum ns_flow_end)f->end), ns_flow_end_name(w->end));
    assert_int_equal(ns_flow_community_id(f, 0, cid, sizeof(cid)), 0);
    assert_string_equal(cid, w->community_id);
}

/* Community IDs computed independently from the Community ID v1 spec. */
static const struct want flow_tcp = {
    NS_IPPROTO_TCP,
    "192.0.2.1",
    40000,
    "192.0.2.2",
    80,
    1,
    1300,
    5,
    3,
    280,
    162,
    FIN | SYN | PSH | ACK,
    NS_FLOW_ST_CLOSED,
    NS_FLOW_END_EOF,
    "1:G+HkHCrmxWLQgwEnSytJ6z6uCFc=",
};

static const struct want flow_udp = {
    NS_IPPROTO_UDP,
    "192.0.2.1",
    5353,
    "192.0.2.3",
    53,
    300,
    500,
    1,
    1,
    50,
    58,
    0,
    NS_FLOW_ST_NEW,
    NS_FLOW_END_EOF,
    "1:Z6mNldAvPV3yty9TGvYOLXyyUcQ=",
};

/*
 * the reassembled datagram: two frames of 50 bytes; first seen with its first
 * fragment, last seen when it was completed
 */
static const struct want flow_frag = {
    NS_IPPROTO_UDP,
    "192.0.2.5",
    7000,
    "192.0.2.6",
    9000,
    900,
    1000,
    2,
    0,
    100,
    0,
    0,
    NS_FLOW_ST_NEW,
    NS_FLOW_END_EOF,
    "1:BNKd1I2YVmcij8BuwLvf8Cgm6UI=",
};

/* ---- tests ---- */

static void test_pipeline_main_capture(void **state)
{
    (void)state;
    struct pcap_out o;
    struct seen s;
    struct ns_pipeline_stats st;
    memset(&s, 0, sizeof(s));
    write_main_capture(&o);
    const char *paths[] = {o.path};

    assert_int_equal(run(&s, paths, 1, false, &st), 0);

    /* flows end at the end of the input, in first-seen order */
    assert_int_equal(s.nflows, 3);
    check_flow(&s.flows[0], &flow_tcp);
    check_flow(&s.flows[1], &flow_udp);
    check_flow(&s.flows[2], &flow_frag);

    /* 8 TCP + 2 UDP + the datagram once: fragments are not delivered on their own */
    assert_int_equal(s.npackets, 11);
    assert_int_equal(s.nreassembled, 1);
    assert_int_equal(s.reasm_flags & (NS_PKT_F_FRAGMENT | NS_PKT_F_REASSEMBLED | NS_PKT_F_HAS_L4),
                     NS_PKT_F_REASSEMBLED | NS_PKT_F_HAS_L4);
    assert_int_equal(s.reasm_sport, 7000);
    assert_int_equal(s.reasm_dport, 9000);
    assert_int_equal(s.reasm_fwd_packets, 2);
    assert_int_equal(s.reasm_dir, 0);
    assert_int_equal(s.nerrors, 0);
    assert_int_equal(s.nprogress, 0); /* fewer than 65536 frames */

    assert_int_equal(st.source.frames, 14);
    assert_int_equal(st.source.inputs, 1);
    assert_int_equal(st.source.inputs_failed, 0);
    assert_int_equal(st.decode.frames, 14);
    assert_int_equal(st.decode.decoded, 12);
    assert_int_equal(st.decode.non_ip, 1);
    assert_int_equal(st.decode.reason[NS_DEC_IPV4_TRUNC], 1);
    uint64_t bad = 0;
    for (int i = 0; i < NS_DEC_REASON_COUNT; i++) {
        bad += st.decode.reason[i];
    }
    assert_int_equal(bad, 1);
    assert_int_equal(st.defrag.fragments, 2);
    assert_int_equal(st.defrag.reassembled, 1);
    assert_int_equal(st.defrag.timeouts, 0);
    assert_int_equal(st.flow.created, 3);
    assert_int_equal(st.flow.ended, 3);
    assert_int_equal(st.flow.active_max, 3);
    assert_int_equal(st.flow.evicted, 0);
    unlink(o.path);
}

static void test_pipeline_no_defrag(void **state)
{
    (void)state;
    struct pcap_out o;
    struct seen s;
    struct ns_pipeline_stats st;
    memset(&s, 0, sizeof(s));
    write_main_capture(&o);
    const char *paths[] = {o.path};

    assert_int_equal(run(&s, paths, 1, true, &st), 0);
    assert_int_equal(s.nflows, 3);
    check_flow(&s.flows[0], &flow_tcp);
    check_flow(&s.flows[1], &flow_udp);
    /* each fragment counts on its own; without the UDP header the ports are 0 */
    static const struct want frags = {
        NS_IPPROTO_UDP,
        "192.0.2.5",
        0,
        "192.0.2.6",
        0,
        900,
        1000,
        2,
        0,
        100,
        0,
        0,
        NS_FLOW_ST_NEW,
        NS_FLOW_END_EOF,
        "1:ghGpKJVpT8wB82ddmgKrhkiK/3k=",
    };
    check_flow(&s.flows[2], &frags);
    assert_int_equal(s.npackets, 12);
    assert_int_equal(s.nreassembled, 0);
    assert_int_equal(st.defrag.fragments, 0);
    assert_int_equal(st.defrag.reassembled, 0);
    unlink(o.path);
}

static void test_pipeline_break(void **state)
{
    (void)state;
    struct pcap_out o;
    struct seen s;
    struct ns_pipeline_stats st;
    memset(&s, 0, sizeof(s));
    s.break_after = 2; /* stop after the SYN+ACK */
    write_main_capture(&o);
    const char *paths[] = {o.path};

    assert_int_equal(run(&s, paths, 1, false, &st), 0);
    assert_int_equal(s.npackets, 2);
    assert_int_equal(st.source.frames, 2);
    /* the flow seen so far is still ended and reported */
    assert_int_equal(s.nflows, 1);
    static const struct want half = {
        NS_IPPROTO_TCP,
        "192.0.2.1",
        40000,
        "192.0.2.2",
        80,
        1,
        100,
        1,
        1,
        54,
        54,
        SYN | ACK,
        NS_FLOW_ST_SYN_RECEIVED,
        NS_FLOW_END_EOF,
        "1:G+HkHCrmxWLQgwEnSytJ6z6uCFc=",
    };
    check_flow(&s.flows[0], &half);
    unlink(o.path);
}

/* Same 5-tuple 200 s apart: the UDP timeout (60 s) ends the first flow on the way. */
static void test_pipeline_idle_timeout(void **state)
{
    (void)state;
    struct pcap_out o;
    struct seen s;
    struct ns_pipeline_stats st;
    struct frame f;
    memset(&s, 0, sizeof(s));
    pcap_open(&o, "idle");
    udp_frame(&f, C, D, 5353, 53, 8);
    pcap_put(&o, T0, 0, &f);
    pcap_put(&o, T0 + 200, 0, &f);
    pcap_close(&o);
    const char *paths[] = {o.path};

    assert_int_equal(run(&s, paths, 1, false, &st), 0);
    assert_int_equal(s.nflows, 2);
    struct want w = {
        NS_IPPROTO_UDP,
        "192.0.2.1",
        5353,
        "192.0.2.3",
        53,
        0,
        0,
        1,
        0,
        50,
        0,
        0,
        NS_FLOW_ST_NEW,
        NS_FLOW_END_IDLE,
        "1:Z6mNldAvPV3yty9TGvYOLXyyUcQ=",
    };
    check_flow(&s.flows[0], &w);
    w.first_us = 200000000u;
    w.last_us = 200000000u;
    w.end = NS_FLOW_END_EOF;
    check_flow(&s.flows[1], &w);
    assert_int_equal(st.flow.created, 2);
    assert_int_equal(st.flow.timed_out, 1);
    assert_int_equal(st.flow.active_max, 1);
    unlink(o.path);
}

/* A first fragment whose sibling never comes: counted as timed out at the end, no flow. */
static void test_pipeline_fragment_left_over(void **state)
{
    (void)state;
    struct pcap_out o;
    struct seen s;
    struct ns_pipeline_stats st;
    struct frame f;
    memset(&s, 0, sizeof(s));
    pcap_open(&o, "leftover");
    frag_frame(&f, 0);
    pcap_put(&o, T0, 0, &f);
    pcap_close(&o);
    const char *paths[] = {o.path};

    assert_int_equal(run(&s, paths, 1, false, &st), 0);
    assert_int_equal(s.nflows, 0);
    assert_int_equal(s.npackets, 0);
    assert_int_equal(st.defrag.fragments, 1);
    assert_int_equal(st.defrag.reassembled, 0);
    assert_int_equal(st.defrag.timeouts, 1);
    unlink(o.path);
}

/* 65536 + 10 ARP frames: one progress call, at frame 65536. */
static void test_pipeline_progress(void **state)
{
    (void)state;
    struct pcap_out o;
    struct seen s;
    struct ns_pipeline_stats st;
    struct frame f;
    memset(&s, 0, sizeof(s));
    pcap_open(&o, "progress");
    arp_frame(&f);
    for (uint32_t i = 0; i < 65536 + 10; i++) {
        pcap_put(&o, T0 + i / 1000000, i % 1000000, &f);
    }
    pcap_close(&o);
    const char *paths[] = {o.path};

    assert_int_equal(run(&s, paths, 1, false, &st), 0);
    assert_int_equal(s.nprogress, 1);
    assert_int_equal(s.progress_frames, 65536);
    assert_int_equal(s.progress_bytes, 65536 * 42);
    assert_int_equal(st.source.frames, 65546);
    assert_int_equal(st.decode.non_ip, 65546);
    assert_int_equal(s.nflows, 0);
    unlink(o.path);
}

/*
 * A file that breaks off inside its second record, given before a good one:
 * the error is reported, the good frames of both files are still counted and
 * run() returns NS_EIO.
 */
static void test_pipeline_input_error(void **state)
{
    (void)state;
    struct pcap_out bad;
    struct pcap_out good;
    struct seen s;
    struct ns_pipeline_stats st;
    struct frame f;
    memset(&s, 0, sizeof(s));

    pcap_open(&bad, "bad");
    udp_frame(&f, C, D, 5353, 53, 8);
    pcap_put(&bad, T0, 0, &f);
    f.len = 50;
    uint8_t rh[16];
    putle32(rh, T0);
    putle32(rh + 4, 10);
    putle32(rh + 8, 50);
    putle32(rh + 12, 50);
    assert_int_equal(fwrite(rh, 1, sizeof(rh), bad.fp), sizeof(rh));
    assert_int_equal(fwrite(f.b, 1, 20, bad.fp), 20); /* 30 bytes short */
    pcap_close(&bad);

    pcap_open(&good, "good");
    udp_frame(&f, D, C, 53, 5353, 16);
    pcap_put(&good, T0, 500, &f);
    pcap_close(&good);

    const char *paths[] = {bad.path, good.path};
    assert_int_equal(run(&s, paths, 2, false, &st), NS_EIO);
    assert_int_equal(s.nerrors, 1);
    assert_non_null(strstr(s.errors[0], bad.path));
    assert_int_equal(st.source.frames, 2);
    assert_int_equal(st.source.inputs_failed, 1);
    assert_int_equal(s.nflows, 1);
    struct want w = flow_udp;
    w.first_us = 0;
    check_flow(&s.flows[0], &w);
    unlink(bad.path);
    unlink(good.path);
}

static void test_pipeline_open_error(void **state)
{
    (void)state;
    struct ns_pipeline *pl = (struct ns_pipeline *)&pl;
    struct ns_pipeline_opts o;
    struct ns_error err;
    const char *paths[] = {"/nonexistent/ns_test_pipeline.pcap"};
    memset(&o, 0, sizeof(o));
    o.source.paths = paths;
    o.source.npaths = 1;
    assert_true(ns_pipeline_new(&pl, &o, &err) < 0);
    assert_null(pl);
    assert_true(err.code < 0);
    assert_true(err.msg[0] != '\0');
}

/* ---- TCP reassembly in the pipeline ---- */

/* The order of the callbacks, as one string of short tokens. */
struct order {
    struct ns_pipeline *pl;
    char log[512];
    size_t len;
    size_t npackets;
    size_t break_after;
};

static void order_put(struct order *o, const char *tok)
{
    size_t n = strlen(tok);
    assert_true(o->len + n + 1 < sizeof(o->log));
    if (o->len > 0) {
        o->log[o->len++] = ' ';
    }
    memcpy(o->log + o->len, tok, n + 1);
    o->len += n;
}

static void ord_packet(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    struct order *o = ud;
    (void)p;
    (void)flow;
    (void)dir;
    order_put(o, "p");
    o->npackets++;
    if (o->break_after != 0 && o->npackets == o->break_after) {
        ns_pipeline_break(o->pl);
    }
}

static void ord_flow_end(void *ud, struct ns_flow *f)
{
    struct order *o = ud;
    assert_null(f->user); /* the reassembler let go of it first */
    order_put(o, f->key.proto == NS_IPPROTO_TCP ? "F6" : "F17");
}

static void ord_data(void *ud, struct ns_tcp_conn *c, int dir, const uint8_t *data, size_t len,
                     uint64_t ts_ns)
{
    struct order *o = ud;
    char tok[32];
    (void)c;
    (void)ts_ns;
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(data[i], 'x');
    }
    snprintf(tok, sizeof(tok), "d%d:%zu", dir, len);
    order_put(o, tok);
}

static void ord_gap(void *ud, struct ns_tcp_conn *c, int dir, uint64_t len, uint64_t ts_ns)
{
    struct order *o = ud;
    char tok[32];
    (void)c;
    (void)ts_ns;
    snprintf(tok, sizeof(tok), "g%d:%llu", dir, (unsigned long long)len);
    order_put(o, tok);
}

static void ord_close(void *ud, struct ns_tcp_conn *c, int dir, enum ns_tcp_close why,
                      uint64_t ts_ns)
{
    struct order *o = ud;
    char tok[8];
    (void)c;
    (void)ts_ns;
    snprintf(tok, sizeof(tok), "c%d%c", dir,
             why == NS_TCP_CLOSE_FIN   ? 'f'
             : why == NS_TCP_CLOSE_RST ? 'r'
                                       : 'e');
    order_put(o, tok);
}

static void ord_conn_end(void *ud, struct ns_tcp_conn *c)
{
    struct order *o = ud;
    assert_non_null(c->flow);
    order_put(o, "e");
}

static int run_order(struct order *o, const char *path, struct ns_pipeline_stats *st)
{
    struct ns_pipeline_opts po;
    struct ns_tcp_reasm_opts to;
    struct ns_error err;
    const char *paths[] = {path};
    memset(&po, 0, sizeof(po));
    memset(&to, 0, sizeof(to));
    to.on_data = ord_data;
    to.on_gap = ord_gap;
    to.on_close = ord_close;
    to.on_conn_end = ord_conn_end;
    to.ud = o;
    po.source.paths = paths;
    po.source.npaths = 1;
    po.tcp = &to;
    po.on_packet = ord_packet;
    po.on_flow_end = ord_flow_end;
    po.ud = o;
    assert_int_equal(ns_pipeline_new(&o->pl, &po, &err), 0);
    int rc = ns_pipeline_run(o->pl, &err);
    ns_pipeline_get_stats(o->pl, st);
    ns_pipeline_free(o->pl);
    o->pl = NULL;
    return rc;
}

static void test_pipeline_tcp_wiring(void **state)
{
    (void)state;
    struct pcap_out out;
    struct order o;
    struct ns_pipeline_stats st;
    memset(&o, 0, sizeof(o));
    write_main_capture(&out);

    assert_int_equal(run_order(&o, out.path, &st), 0);
    /*
     * SYN, SYN+ACK, ACK, UDP query, 10 bytes (data first), UDP answer, ACK,
     * the reassembled UDP datagram, both FINs (each closing its direction
     * before on_packet), the last ACK; at the end the TCP connection ends
     * before its flow, then the two UDP flows.
     */
    assert_string_equal(o.log, "p p p p d0:10 p p p p c0f p c1f p p e F6 F17 F17");
    assert_int_equal(st.tcp.conns, 1);
    assert_int_equal(st.tcp.segments, 1);
    assert_int_equal(st.tcp.bytes, 10);
    assert_int_equal(st.tcp.gaps, 0);
    assert_int_equal(st.flow.ended, 3);

    /* stopped after the SYN+ACK: the open directions end with the flow */
    memset(&o, 0, sizeof(o));
    o.break_after = 2;
    assert_int_equal(run_order(&o, out.path, &st), 0);
    assert_string_equal(o.log, "p p c0e c1e e F6");
    assert_int_equal(st.tcp.conns, 1);
    assert_int_equal(st.tcp.bytes, 0);
    unlink(out.path);
}

/* Without opts.tcp nothing touches flow->user and the tcp counters stay 0. */
static void user_untouched(void *ud, const struct ns_packet *p, struct ns_flow *flow, int dir)
{
    (void)p;
    (void)dir;
    (void)ud;
    assert_null(flow->user);
}

static void test_pipeline_tcp_off(void **state)
{
    (void)state;
    struct pcap_out out;
    struct ns_pipeline_opts po;
    struct ns_pipeline_stats st;
    struct ns_pipeline *pl = NULL;
    struct ns_error err;
    write_main_capture(&out);
    const char *paths[] = {out.path};
    memset(&po, 0, sizeof(po));
    po.source.paths = paths;
    po.source.npaths = 1;
    po.on_packet = user_untouched;
    assert_int_equal(ns_pipeline_new(&pl, &po, &err), 0);
    assert_int_equal(ns_pipeline_run(pl, &err), 0);
    ns_pipeline_get_stats(pl, &st);
    ns_pipeline_free(pl);
    assert_int_equal(st.tcp.conns, 0);
    assert_int_equal(st.tcp.bytes, 0);
    assert_int_equal(st.flow.created, 3);
    unlink(out.path);
}

/* Reassembled bytes of a capture, per sending port (at most 4 senders). */
#define STREAM_MAX (64 * 1024)

struct streams {
    uint16_t port[4];
    uint8_t *buf[4];
    size_t len[4];
    size_t n;
    uint64_t gaps;
    uint64_t closes;
};

static size_t streams_slot(struct streams *s, uint16_t port)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->port[i] == port) {
            return i;
        }
    }
    assert_true(s->n < 4);
    s->port[s->n] = port;
    s->buf[s->n] = test_malloc(STREAM_MAX);
    return s->n++;
}

static void str_data(void *ud, struct ns_tcp_conn *c, int dir, const uint8_t *data, size_t len,
                     uint64_t ts_ns)
{
    struct streams *s = ud;
    uint16_t sport = 0;
    uint16_t dport = 0;
    (void)ts_ns;
    ns_flow_endpoints(c->flow, NULL, &sport, NULL, &dport);
    size_t i = streams_slot(s, dir == 0 ? sport : dport);
    assert_true(s->len[i] + len <= STREAM_MAX);
    memcpy(s->buf[i] + s->len[i], data, len);
    s->len[i] += len;
}

static void str_gap(void *ud, struct ns_tcp_conn *c, int dir, uint64_t len, uint64_t ts_ns)
{
    struct streams *s = ud;
    (void)c;
    (void)dir;
    (void)ts_ns;
    s->gaps += len;
}

static void str_close(void *ud, struct ns_tcp_conn *c, int dir, enum ns_tcp_close why,
                      uint64_t ts_ns)
{
    struct streams *s = ud;
    (void)c;
    (void)dir;
    (void)why;
    (void)ts_ns;
    s->closes++;
}

static void streams_of(const char *path, struct streams *s)
{
    struct ns_pipeline_opts po;
    struct ns_tcp_reasm_opts to;
    struct ns_pipeline *pl = NULL;
    struct ns_error err;
    const char *paths[] = {path};
    memset(s, 0, sizeof(*s));
    memset(&po, 0, sizeof(po));
    memset(&to, 0, sizeof(to));
    to.on_data = str_data;
    to.on_gap = str_gap;
    to.on_close = str_close;
    to.ud = s;
    po.source.paths = paths;
    po.source.npaths = 1;
    po.tcp = &to;
    assert_int_equal(ns_pipeline_new(&pl, &po, &err), 0);
    assert_int_equal(ns_pipeline_run(pl, &err), 0);
    ns_pipeline_free(pl);
}

static void streams_release(struct streams *s)
{
    for (size_t i = 0; i < s->n; i++) {
        test_free(s->buf[i]);
    }
}

static bool shared_file(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/pcap/tcp/%s", NS_SHARED_DATA, name);
    return access(path, R_OK) == 0;
}

/* The same conversation in order and shuffled: identical bytes per sender. */
static void check_same_streams(const char *name_a, const char *name_b, uint16_t port_a,
                               size_t len_a, uint16_t port_b, size_t len_b)
{
    char a[1024];
    char b[1024];
    struct streams sa;
    struct streams sb;
    if (!shared_file(a, sizeof(a), name_a) || !shared_file(b, sizeof(b), name_b)) {
        print_message("skipped: shared captures %s / %s not found under %s\n", name_a, name_b,
                      NS_SHARED_DATA);
        skip();
    }
    streams_of(a, &sa);
    streams_of(b, &sb);
    assert_int_equal(sa.n, 2);
    assert_int_equal(sb.n, 2);
    assert_int_equal(sa.gaps, 0);
    assert_int_equal(sb.gaps, 0);
    for (size_t i = 0; i < 2; i++) {
        size_t j = sb.port[0] == sa.port[i] ? 0 : 1;
        assert_int_equal(sb.port[j], sa.port[i]);
        assert_int_equal(sa.len[i], sa.port[i] == port_a ? len_a : len_b);
        assert_true(sa.port[i] == port_a || sa.port[i] == port_b);
        assert_int_equal(sb.len[j], sa.len[i]);
        assert_memory_equal(sb.buf[j], sa.buf[i], sa.len[i]);
    }
    streams_release(&sa);
    streams_release(&sb);
}

/*
 * tcpflow's test5-lines: a GET of 120 bytes and a 1884-byte response; the
 * randomized copy has every frame shuffled (even the SYN comes after both
 * FINs, so the flow table sees two flows).
 */
static void test_pipeline_tcp_randomized(void **state)
{
    (void)state;
    check_same_streams("tcpflow_test5-lines.pcap", "tcpflow_test5-lines-randomized.pcap", 49392,
                       120, 80, 1884);
}

/* PcapPlusPlus one_tcp_stream, and the same with sequence numbers wrapping past 2^32. */
static void test_pipeline_tcp_wrap(void **state)
{
    (void)state;
    check_same_streams("ppp_one_tcp_stream.pcap", "ppp_one_tcp_stream_max_seq.pcap", 61541, 9948,
                       80, 12444);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_main_capture),
        cmocka_unit_test(test_pipeline_no_defrag),
        cmocka_unit_test(test_pipeline_break),
        cmocka_unit_test(test_pipeline_idle_timeout),
        cmocka_unit_test(test_pipeline_fragment_left_over),
        cmocka_unit_test(test_pipeline_progress),
        cmocka_unit_test(test_pipeline_input_error),
        cmocka_unit_test(test_pipeline_open_error),
        cmocka_unit_test(test_pipeline_tcp_wiring),
        cmocka_unit_test(test_pipeline_tcp_off),
        cmocka_unit_test(test_pipeline_tcp_randomized),
        cmocka_unit_test(test_pipeline_tcp_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
