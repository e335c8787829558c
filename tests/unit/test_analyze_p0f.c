/*
 * test_analyze_p0f.c - p0f v3 fingerprinting (p0f.h): the p0f.fp parser,
 * TCP signature extraction and matching (exact, fuzzy, generic, none), the
 * [mtu] link, and HTTP header signatures with the User-Agent check.
 *
 * Frames are Ethernet + IPv4 (or IPv6) + TCP, assembled by frame() from an
 * annotated header description and annotated TCP option bytes; each OS
 * sample follows a signature of p0f 3.09b's p0f.fp (the database line is
 * quoted next to it). The tests run on a small database written here (the
 * quoted lines plus a few of our own) and, when the shared data is present,
 * the same frames are matched against the full p0f.fp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netsift/alloc.h"
#include "netsift/decode.h"
#include "netsift/err.h"
#include "netsift/http.h"
#include "netsift/p0f.h"

/* ------------------------------------------------------------ database */

static const char mini_fp[] = "; test database\n"
                              "classes = win,unix,other\n"
                              "\n"
                              "[mtu]\n"
                              "label = Ethernet or modem\n"
                              "sig   = 1500\n"
                              "label = DSL\n"
                              "sig   = 1492\n"
                              "\n"
                              "[tcp:request]\n"
                              "label = s:unix:Linux:3.11 and newer\n"
                              "sig   = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0\n"
                              "sig   = *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0\n"
                              "label = g:unix:Linux:2.2.x-3.x\n"
                              "sig   = *:64:0:*:*,*:mss,sok,ts,nop,ws:df,id+:0\n"
                              "label = s:win:Windows:7 or 8\n"
                              "sig   = *:128:0:*:8192,2:mss,nop,ws,nop,nop,sok:df,id+:0\n"
                              "label = s:unix:Mac OS X:10.x\n"
                              "sig   = *:64:0:*:65535,3:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0\n"
                              "label = s:unix:FreeBSD:9.x or newer\n"
                              "sig   = *:64:0:*:65535,6:mss,nop,ws,sok,ts:df,id+:0\n"
                              "label = s:!:NMap:SYN scan\n"
                              "sys   = @unix,@win\n"
                              "sig   = *:64-:0:1460:1024,0:mss::0\n"
                              "\n"
                              "[tcp:response]\n"
                              "label = s:unix:Linux:3.x\n"
                              "sig   = *:64:0:*:mss*10,0:mss,sok,ts:df:0\n"
                              "\n"
                              "[http:request]\n"
                              "ua_os = Linux,Windows,iOS=[iPhone],Mac OS X\n"
                              "label = s:!:curl:\n"
                              "sys   = Linux,@unix\n"
                              "sig   = *:User-Agent,Host,Accept=[*/*]:Accept-Encoding:curl/\n"
                              "label = g:!:some browser:\n"
                              "sys   = @win\n"
                              "sig   = 1:Host,User-Agent,?Referer,Accept::Mozilla/\n"
                              "\n"
                              "[http:response]\n"
                              "label = s:!:nginx:1.x\n"
                              "sys   = @unix\n"
                              "sig   = *:Server,Date,Content-Type:Keep-Alive:nginx\n";

static struct ns_p0f_db *mini_db(void)
{
    struct ns_p0f_db *db = NULL;
    struct ns_error err;
    int rc = ns_p0f_load_buffer(&db, mini_fp, sizeof(mini_fp) - 1, "mini.fp", &err);
    if (rc != 0) {
        fail_msg("%s", err.msg);
    }
    return db;
}

/* -------------------------------------------------------------- frames */

struct hdr {
    int ver;       /* 4 or 6 */
    uint8_t ttl;   /* TTL / hop limit */
    uint8_t tos;   /* TOS / traffic class */
    uint16_t ipid; /* IPv4 */
    uint16_t frag; /* IPv4 flags + offset: 0x4000 DF, 0x8000 reserved */
    uint32_t flow; /* IPv6 flow label */
    uint8_t flags; /* TCP flags */
    uint32_t seq;
    uint32_t ack;
    uint16_t win;
    uint16_t urg;
    size_t payload; /* zero bytes after the header */
};

/*
 * Ethernet + IP + TCP with `opts` (a multiple of 4 bytes) into buf; returns
 * the frame length. Addresses 10.0.0.1:40000 -> 10.0.0.2:80 (or 2001:db8::1
 * -> 2001:db8::2).
 */
static size_t frame(uint8_t *buf, const struct hdr *h, const uint8_t *opts, size_t olen)
{
    size_t n = 0;
    size_t tcp_len = 20 + olen;
    static const uint8_t macs[12] = {0,    0x11, 0x22, 0x33, 0x44, 0x55,
                                     0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    memcpy(buf, macs, 12);
    n = 12;
    if (h->ver == 4) {
        size_t tot = 20 + tcp_len + h->payload;
        buf[n++] = 0x08;
        buf[n++] = 0x00;
        buf[n++] = 0x45; /* version 4, IHL 5 */
        buf[n++] = h->tos;
        buf[n++] = (uint8_t)(tot >> 8);
        buf[n++] = (uint8_t)tot;
        buf[n++] = (uint8_t)(h->ipid >> 8);
        buf[n++] = (uint8_t)h->ipid;
        buf[n++] = (uint8_t)(h->frag >> 8);
        buf[n++] = (uint8_t)h->frag;
        buf[n++] = h->ttl;
        buf[n++] = 6; /* TCP */
        buf[n++] = 0;
        buf[n++] = 0; /* checksum (not checked) */
        static const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
        memcpy(buf + n, addrs, 8);
        n += 8;
    } else {
        size_t plen = tcp_len + h->payload;
        buf[n++] = 0x86;
        buf[n++] = 0xdd;
        uint32_t v = 6u << 28 | (uint32_t)h->tos << 20 | (h->flow & 0xfffff);
        buf[n++] = (uint8_t)(v >> 24);
        buf[n++] = (uint8_t)(v >> 16);
        buf[n++] = (uint8_t)(v >> 8);
        buf[n++] = (uint8_t)v;
        buf[n++] = (uint8_t)(plen >> 8);
        buf[n++] = (uint8_t)plen;
        buf[n++] = 6; /* next header TCP */
        buf[n++] = h->ttl;
        static const uint8_t a6[32] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                       0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        memcpy(buf + n, a6, 32);
        n += 32;
    }
    buf[n++] = 0x9c;
    buf[n++] = 0x40; /* source port 40000 */
    buf[n++] = 0x00;
    buf[n++] = 0x50; /* destination port 80 */
    for (int i = 3; i >= 0; i--) {
        buf[n++] = (uint8_t)(h->seq >> (8 * i));
    }
    for (int i = 3; i >= 0; i--) {
        buf[n++] = (uint8_t)(h->ack >> (8 * i));
    }
    buf[n++] = (uint8_t)(tcp_len / 4 << 4); /* data offset */
    buf[n++] = h->flags;
    buf[n++] = (uint8_t)(h->win >> 8);
    buf[n++] = (uint8_t)h->win;
    buf[n++] = 0;
    buf[n++] = 0; /* checksum */
    buf[n++] = (uint8_t)(h->urg >> 8);
    buf[n++] = (uint8_t)h->urg;
    if (olen > 0) {
        memcpy(buf + n, opts, olen);
        n += olen;
    }
    memset(buf + n, 0, h->payload);
    return n + h->payload;
}

struct sample {
    uint8_t bytes[256];
    struct ns_packet p;
};

static void build(struct sample *s, const struct hdr *h, const uint8_t *opts, size_t olen)
{
    memset(s, 0, sizeof(*s));
    s->p.data = s->bytes;
    s->p.caplen = (uint32_t)frame(s->bytes, h, opts, olen);
    s->p.wirelen = s->p.caplen;
    s->p.linktype = NS_LINK_EN10MB;
    s->p.index = 1;
    assert_int_equal(ns_decode_packet(&s->p, NULL, NULL), 0);
}

#define SYN    0x02
#define SYNACK 0x12

/* Linux 3.11+: mss 1460, sok, ts, nop, ws 7; win 29200 = 1460 * 20 */
static const uint8_t opt_linux[] = {
    0x02, 0x04, 0x05, 0xb4,                                     /* mss 1460 */
    0x04, 0x02,                                                 /* sack permitted */
    0x08, 0x0a, 0x00, 0x0a, 0xbc, 0xde, 0x00, 0x00, 0x00, 0x00, /* ts 0xabcde, 0 */
    0x01,                                                       /* nop */
    0x03, 0x03, 0x07,                                           /* window scale 7 */
};

/* Windows 7: mss 1460, nop, ws 2, nop, nop, sok */
static const uint8_t opt_win7[] = {
    0x02, 0x04, 0x05, 0xb4, /* mss 1460 */
    0x01,                   /* nop */
    0x03, 0x03, 0x02,       /* window scale 2 */
    0x01, 0x01,             /* nop nop */
    0x04, 0x02,             /* sack permitted */
};

/* Mac OS X 10.x: mss, nop, ws 3, nop, nop, ts, sok, eol + 1 byte of padding */
static const uint8_t opt_mac[] = {
    0x02, 0x04, 0x05, 0xb4,                                     /* mss 1460 */
    0x01,                                                       /* nop */
    0x03, 0x03, 0x03,                                           /* window scale 3 */
    0x01, 0x01,                                                 /* nop nop */
    0x08, 0x0a, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, /* ts */
    0x04, 0x02,                                                 /* sack permitted */
    0x00,                                                       /* eol */
    0x00,                                                       /* padding */
};

/* FreeBSD 9+: mss, nop, ws 6, sok, ts */
static const uint8_t opt_fbsd[] = {
    0x02, 0x04, 0x05, 0xb4,                                     /* mss 1460 */
    0x01,                                                       /* nop */
    0x03, 0x03, 0x06,                                           /* window scale 6 */
    0x04, 0x02,                                                 /* sack permitted */
    0x08, 0x0a, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, /* ts 4096, 0 */
};

static void expect(const struct ns_p0f_result *r, enum ns_p0f_match m, const char *os,
                   const char *flavor, int dist, const char *raw)
{
    assert_int_equal(r->match, m);
    if (os == NULL) {
        assert_null(r->os);
    } else {
        assert_non_null(r->os);
        assert_string_equal(r->os, os);
        assert_string_equal(r->flavor, flavor);
    }
    assert_int_equal(r->dist, dist);
    assert_string_equal(r->raw_sig, raw);
}

/* ---------------------------------------------------------------- TCP */

static void test_linux_syn_exact(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct hdr h = {.ver = 4,
                    .ttl = 64,
                    .ipid = 0x1c46,
                    .frag = 0x4000,
                    .flags = SYN,
                    .seq = 1000,
                    .win = 29200};
    build(&s, &h, opt_linux, sizeof(opt_linux));
    struct ns_p0f_result r;
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Linux", "3.11 and newer", 0,
           "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0");
    assert_string_equal(r.class_, "unix");
    assert_false(r.generic);
    assert_int_equal(r.mtu, 1500);
    assert_string_equal(r.link, "Ethernet or modem");
    char label[64];
    assert_string_equal(ns_p0f_label(&r, label, sizeof(label)), "Linux 3.11 and newer");
    assert_string_equal(ns_p0f_match_name(r.match), "exact");
    ns_p0f_free(db);
}

static void test_windows_syn_exact_with_distance(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct hdr h = {
        .ver = 4, .ttl = 120, .ipid = 0x0102, .frag = 0x4000, .flags = SYN, .seq = 77, .win = 8192};
    build(&s, &h, opt_win7, sizeof(opt_win7));
    struct ns_p0f_result r;
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Windows", "7 or 8", 8,
           "4:120+8:0:1460:8192,2:mss,nop,ws,nop,nop,sok:df,id+:0");
    assert_string_equal(r.class_, "win");
    ns_p0f_free(db);
}

static void test_macos_and_freebsd_exact(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    struct hdr h = {
        .ver = 4, .ttl = 60, .ipid = 0xbeef, .frag = 0x4000, .flags = SYN, .seq = 5, .win = 65535};
    build(&s, &h, opt_mac, sizeof(opt_mac));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Mac OS X", "10.x", 4,
           "4:60+4:0:1460:65535,3:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0");

    build(&s, &h, opt_fbsd, sizeof(opt_fbsd));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "FreeBSD", "9.x or newer", 4,
           "4:60+4:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0");
    ns_p0f_free(db);
}

static void test_fuzzy_quirks_and_ttl(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    /* DF gone (so id+ too): quirks may disappear -> fuzzy, distance from the signature */
    struct hdr h = {.ver = 4, .ttl = 50, .ipid = 0x1c46, .flags = SYN, .seq = 1000, .win = 29200};
    build(&s, &h, opt_linux, sizeof(opt_linux));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_FUZZY, "Linux", "3.11 and newer", 14,
           "4:50+14:0:1460:mss*20,7:mss,sok,ts,nop,ws::0");
    assert_string_equal(ns_p0f_match_name(r.match), "fuzzy");

    /* TTL above the signature's: fuzzy, distance guessed (255 - 200 = 55, shown as "?") */
    h.ttl = 200;
    h.frag = 0x4000;
    build(&s, &h, opt_linux, sizeof(opt_linux));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_FUZZY, "Linux", "3.11 and newer", 55,
           "4:200+?:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0");

    /* a quirk that may not appear (seq-) is no match at all */
    h.ttl = 64;
    h.seq = 0;
    build(&s, &h, opt_linux, sizeof(opt_linux));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_NONE, NULL, NULL, 0,
           "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+,seq-:0");
    ns_p0f_free(db);
}

static void test_generic_last(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    /* the Linux layout with a window no specific signature has */
    struct hdr h = {
        .ver = 4, .ttl = 64, .ipid = 9, .frag = 0x4000, .flags = SYN, .seq = 1, .win = 12345};
    build(&s, &h, opt_linux, sizeof(opt_linux));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_GENERIC, "Linux", "2.2.x-3.x", 0,
           "4:64+0:0:1460:12345,7:mss,sok,ts,nop,ws:df,id+:0");
    assert_true(r.generic);
    ns_p0f_free(db);
}

static void test_no_match_raw_sig(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    static const uint8_t opts[] = {
        0x02, 0x04, 0x05, 0xac, /* mss 1452 */
        0x1e, 0x04, 0xaa, 0xbb, /* unknown kind 30, length 4 */
    };
    struct hdr h = {
        .ver = 4, .ttl = 37, .ipid = 1, .frag = 0x4000, .flags = SYN, .seq = 1, .win = 5808};
    build(&s, &h, opts, sizeof(opts));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_NONE, NULL, NULL, 27, "4:37+27:0:1452:mss*4,0:mss,?30:df,id+:0");
    assert_int_equal(r.mtu, 1492);
    assert_string_equal(r.link, "DSL");
    char label[16];
    assert_string_equal(ns_p0f_label(&r, label, sizeof(label)), "???");
    ns_p0f_free(db);
}

static void test_application_signature(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    static const uint8_t opts[] = {0x02, 0x04, 0x05, 0xb4}; /* mss 1460 */
    /* random TTL signature "64-": any TTL up to 64 matches, exactly */
    struct hdr h = {.ver = 4, .ttl = 41, .ipid = 0x5555, .flags = SYN, .seq = 9, .win = 1024};
    build(&s, &h, opts, sizeof(opts));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "NMap", "SYN scan", 23, "4:41+23:0:1460:1024,0:mss::0");
    assert_string_equal(r.class_, "!");
    assert_true(r.random_ttl);
    ns_p0f_free(db);
}

static void test_synack_and_peer_mss(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    static const uint8_t opts[] = {
        0x02, 0x04, 0x05, 0xb4,                                     /* mss 1460 */
        0x04, 0x02,                                                 /* sack permitted */
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x0a, 0xbc, 0xde, /* ts 7, echo */
    };
    struct hdr h = {
        .ver = 4, .ttl = 61, .frag = 0x4000, .flags = SYNACK, .seq = 99, .ack = 1001, .win = 14600};
    build(&s, &h, opts, sizeof(opts));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    /* id 0 with DF: no id+; a peer timestamp is normal on a SYN+ACK */
    expect(&r, NS_P0F_EXACT, "Linux", "3.x", 3, "4:61+3:0:1460:mss*10,0:mss,sok,ts:df:0");

    /* window 10000 is 10 times the client's MSS (1000), not a multiple of its own */
    static const uint8_t opts2[] = {0x02, 0x04, 0x05, 0x64}; /* mss 1380 */
    h.win = 10000;
    build(&s, &h, opts2, sizeof(opts2));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    assert_string_equal(r.raw_sig, "4:61+3:0:1380:10000,0:mss:df:0");
    assert_int_equal(ns_p0f_tcp_peer(db, &s.p, 1000, &r), 0);
    assert_string_equal(r.raw_sig, "4:61+3:0:1380:mss*10,0:mss:df:0");
    ns_p0f_free(db);
}

static void test_quirks_all(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    static const uint8_t opts[] = {
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* ts 0 (ts1-), echo 5 (ts2+) */
        0x00,                                                       /* eol */
        0x00, 0x05, 0x00, 0x00, 0x00, /* padding with a non-zero byte (opt+) */
    };
    /* ECT(0) (ecn), reserved bit + DF with id 1 (0+, df, id+), seq 0, URG and PSH */
    struct hdr h = {.ver = 4,
                    .ttl = 64,
                    .tos = 0x02,
                    .ipid = 1,
                    .frag = 0xc000,
                    .flags = SYN | 0x20 | 0x08,
                    .seq = 0,
                    .win = 65535,
                    .urg = 0};
    build(&s, &h, opts, sizeof(opts));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_NONE, NULL, NULL, 0,
           "4:64+0:0:0:65535,0:ts,eol+5:df,id+,ecn,0+,seq-,urgf+,pushf+,ts1-,ts2+,opt+:0");

    /* uptr+ without URG, id- (no DF, id 0), ack+ (p0f 3.09b tests the low bit of the first
     * ack byte), payload, MSS with a wrong length (bad), window scale 15 (exws) */
    static const uint8_t opts2[] = {
        0x02, 0x05, 0x05, 0xb4, /* mss 1460 with length 5: "bad" */
        0x03, 0x03, 0x0f,       /* window scale 15: "exws" */
        0x01,                   /* nop */
    };
    struct hdr h2 = {.ver = 4,
                     .ttl = 64,
                     .flags = SYN,
                     .seq = 3,
                     .ack = 0x01000000,
                     .win = 1000,
                     .urg = 7,
                     .payload = 4};
    build(&s, &h2, opts2, sizeof(opts2));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    assert_string_equal(r.raw_sig, "4:64+0:0:1460:1000,15:mss,ws,nop:id-,ack+,uptr+,exws,bad:+");

    /* an option running past the header stops the walk: "bad" */
    static const uint8_t opts3[] = {
        0x01, 0x01, 0x01, /* nop nop nop */
        0x08,             /* timestamps, no room left */
    };
    struct hdr h3 = {
        .ver = 4, .ttl = 64, .ipid = 2, .frag = 0x4000, .flags = SYN, .seq = 3, .win = 512};
    build(&s, &h3, opts3, sizeof(opts3));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    assert_string_equal(r.raw_sig, "4:64+0:0:0:512,0:nop,nop,nop,ts:df,id+,bad:0");
    ns_p0f_free(db);
}

static void test_ipv6_flow(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    static const uint8_t opts[] = {
        0x02, 0x04, 0x05, 0xa0,                                     /* mss 1440 */
        0x04, 0x02,                                                 /* sack permitted */
        0x08, 0x0a, 0x00, 0x0a, 0xbc, 0xde, 0x00, 0x00, 0x00, 0x00, /* ts */
        0x01,                                                       /* nop */
        0x03, 0x03, 0x07,                                           /* window scale 7 */
    };
    struct hdr h = {.ver = 6, .ttl = 64, .flow = 0x12345, .flags = SYN, .seq = 1, .win = 28800};
    build(&s, &h, opts, sizeof(opts));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    /* "*" signatures drop df/id+ for IPv6; "flow" is added, which is not a fuzzy quirk */
    assert_string_equal(r.raw_sig, "6:64+0:0:1440:mss*20,7:mss,sok,ts,nop,ws:flow:0");
    assert_int_equal(r.match, NS_P0F_NONE);
    assert_int_equal(r.mtu, 1500);
    assert_string_equal(r.link, "Ethernet or modem");

    h.flow = 0;
    build(&s, &h, opts, sizeof(opts));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Linux", "3.11 and newer", 0,
           "6:64+0:0:1440:mss*20,7:mss,sok,ts,nop,ws::0");
    ns_p0f_free(db);
}

static void test_not_syn(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct sample s;
    struct ns_p0f_result r;
    struct hdr h = {
        .ver = 4, .ttl = 64, .frag = 0x4000, .flags = 0x10, .seq = 1, .ack = 1, .win = 100};
    build(&s, &h, NULL, 0);
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), NS_EINVAL);
    h.flags = SYN | 0x04; /* SYN+RST */
    build(&s, &h, NULL, 0);
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), NS_EINVAL);
    ns_p0f_free(db);
}

/* ------------------------------------------------------------- parser */

struct bad_case {
    const char *text;
    int code;
    const char *msg;
};

static void test_parser_errors(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"classes = win\n[tcp:foo]\n", NS_EMALFORMED, "t.fp: line 2: unknown section '[tcp:foo]'"},
        {"classes = win\n[tcp:request]\nlabel = s:win:W:1\nsig = *:64:0:*:8192,0:mss:df\n",
         NS_EMALFORMED, "t.fp: line 4: tcp signature has 7 fields, expected 8"},
        {"classes = win\n[tcp:request]\nlabel = s:win:W:1\nsig = *:64:0:*:8192,0:mss:df,zz:0\n",
         NS_EMALFORMED, "t.fp: line 4: unknown quirk 'zz'"},
        {"classes = win\n[tcp:request]\nlabel = s:win:W:1\nsig = 6:64:0:*:8192,0:mss:df:0\n",
         NS_EMALFORMED, "t.fp: line 4: quirk 'df' is not valid for IPv6"},
        {"classes = win\n[tcp:request]\nlabel = s:bsd:W:1\n", NS_EMALFORMED,
         "t.fp: line 3: unknown class 'bsd'"},
        {"[tcp:request]\nsig = *:64:0:*:8192,0:mss:df:0\n", NS_EMALFORMED,
         "t.fp: line 2: misplaced 'sig' (no label before it)"},
        {"[http:request]\nlabel = s:!:x:\nsig = *:Host\n", NS_EMALFORMED,
         "t.fp: line 3: misplaced 'sig' (application label needs 'sys')"},
        {"[http:request]\nlabel = s:!:x:\nsys = Linux\nsig = *:Host:\n", NS_EMALFORMED,
         "t.fp: line 4: http signature has 3 fields, expected 4"},
        {"classes = win\n[tcp:request]\nlabel = s:win:W:1\nsig = *:64:0:*:8192,0:mss,foo:df:0\n",
         NS_EMALFORMED, "t.fp: line 4: unknown tcp option 'foo'"},
        {"classes = win\n[tcp:request]\nlabel = s:win:W:1\nsig = *:300:0:*:8192,0:mss::0\n",
         NS_EMALFORMED, "t.fp: line 4: bad initial ttl '300'"},
        {"[mtu]\nlabel = Eth\nsig = 0\n", NS_EMALFORMED, "t.fp: line 3: bad mtu '0'"},
        {"; c\n\nfoo = 1\n", NS_EMALFORMED, "t.fp: line 3: unknown field 'foo'"},
        {"[mtu]\nclasses = win\n", NS_EMALFORMED,
         "t.fp: line 2: misplaced 'classes' (must come before sections)"},
        {"just words\n", NS_EMALFORMED, "t.fp: line 1: expected 'name = value', got 'just words'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ns_p0f_db *db = (struct ns_p0f_db *)&db; /* must be reset to NULL */
        struct ns_error err;
        ns_error_clear(&err);
        int rc = ns_p0f_load_buffer(&db, cases[i].text, strlen(cases[i].text), "t.fp", &err);
        assert_int_equal(rc, cases[i].code);
        assert_null(db);
        assert_string_equal(err.msg, cases[i].msg);
    }
}

static void test_parser_counts_and_file(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    assert_int_equal(ns_p0f_count(db), 13);
    ns_p0f_free(db);
    ns_p0f_free(NULL);

    struct ns_error err;
    assert_int_equal(ns_p0f_load(&db, "/nonexistent/p0f.fp", &err), NS_ENOENT);
    assert_null(db);

    /* the empty file is valid and has no signatures; CRLF line ends are accepted */
    assert_int_equal(ns_p0f_load_buffer(&db, "", 0, "e.fp", &err), 0);
    assert_int_equal(ns_p0f_count(db), 0);
    ns_p0f_free(db);
    static const char crlf[] = "[mtu]\r\nlabel = X\r\nsig = 1500\r\n";
    assert_int_equal(ns_p0f_load_buffer(&db, crlf, sizeof(crlf) - 1, "c.fp", &err), 0);
    assert_int_equal(ns_p0f_count(db), 1);
    ns_p0f_free(db);
}

static void test_parser_oom(void **state)
{
    (void)state;
    for (uint64_t n = 1; n < 64; n++) {
        struct ns_p0f_db *db = NULL;
        struct ns_error err;
        ns_alloc_fail_at(n);
        int rc = ns_p0f_load_buffer(&db, mini_fp, sizeof(mini_fp) - 1, "mini.fp", &err);
        ns_alloc_fail_at(0);
        if (rc == 0) {
            assert_int_equal(ns_p0f_count(db), 13);
            ns_p0f_free(db);
            return;
        }
        assert_int_equal(rc, NS_ENOMEM);
        assert_null(db);
    }
    fail_msg("parser never succeeded");
}

/* ---------------------------------------------------------------- HTTP */

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static struct ns_http_msg req(const struct ns_http_header *hs, size_t n, unsigned minor)
{
    struct ns_http_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = NS_HTTP_REQUEST;
    m.method = "GET";
    m.method_len = 3;
    m.version_major = 1;
    m.version_minor = minor;
    m.headers = hs;
    m.nheaders = n;
    return m;
}

static void test_http_request(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct ns_p0f_result r;

    /* curl: the headers in order, Accept has the value, Accept-Encoding absent */
    static const struct ns_http_header curl[] = {H("User-Agent", "curl/7.88.1"),
                                                 H("Host", "example.org"), H("Accept", "*/*")};
    struct ns_http_msg m = req(curl, 3, 1);
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_int_equal(r.match, NS_P0F_EXACT);
    assert_string_equal(r.os, "curl");
    assert_string_equal(r.class_, "!");
    assert_false(r.dishonest);
    assert_null(r.ua_os);

    /* the same shape with a browser User-Agent: curl, but dishonest; the UA names Linux */
    static const struct ns_http_header liar[] = {H("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"),
                                                 H("Host", "example.org"), H("Accept", "*/*")};
    m = req(liar, 3, 1);
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_string_equal(r.os, "curl");
    assert_true(r.dishonest);
    assert_string_equal(r.ua_os, "Linux");

    /* a banned header (Accept-Encoding) rules curl out; header names are case-sensitive */
    static const struct ns_http_header enc[] = {H("User-Agent", "curl/8"), H("Host", "h"),
                                                H("Accept", "*/*"), H("Accept-Encoding", "x")};
    m = req(enc, 4, 1);
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_int_equal(r.match, NS_P0F_NONE);
    assert_null(r.os);

    /* generic browser: optional Referer may be absent, extra headers in between are fine */
    static const struct ns_http_header br[] = {H("Host", "h"),
                                               H("User-Agent", "Mozilla/5.0 (iPhone; CPU OS)"),
                                               H("X-Extra", "1"), H("Accept", "text/html")};
    m = req(br, 4, 1);
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_int_equal(r.match, NS_P0F_GENERIC);
    assert_string_equal(r.os, "some browser");
    assert_true(r.generic);
    assert_false(r.dishonest);
    assert_string_equal(r.ua_os, "iOS");

    /* ... but not in HTTP/1.0, and not with Referer out of its place */
    m = req(br, 4, 0);
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_int_equal(r.match, NS_P0F_NONE);
    static const struct ns_http_header late[] = {H("Host", "h"), H("User-Agent", "Mozilla/5.0"),
                                                 H("Accept", "text/html"),
                                                 H("Referer", "http://a/")};
    m = req(late, 4, 1);
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_int_equal(r.match, NS_P0F_NONE);
    ns_p0f_free(db);
}

/*
 * Header names are numbered at load: p0f's 34 built-in names, then each new
 * name of the file. Sigs of 32 names, ... fill the table (512) at
 * the 479th new name, X-478, in the 15th sig (line 4 + 14).
 */
static void test_http_name_table(void **state)
{
    (void)state;
    char text[32768];
    size_t len =
        (size_t)snprintf(text, sizeof(text), "[http:request]\nlabel = s:!:x:\nsys = Linux\n");
    for (int sig = 0; sig < 16; sig++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "sig = *:");
        for (int k = 0; k < 32; k++) {
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%sX-%d", k > 0 ? "," : "",
                                    sig * 32 + k);
        }
        len += (size_t)snprintf(text + len, sizeof(text) - len, "::\n");
    }
    assert_true(len < sizeof(text));
    struct ns_p0f_db *db = NULL;
    struct ns_error err;
    assert_int_equal(ns_p0f_load_buffer(&db, text, len, "t.fp", &err), NS_ELIMIT);
    assert_null(db);
    assert_string_equal(err.msg,
                        "t.fp: line 18: header 'X-478': names over 255 bytes or more than 512");

    /* p0f's HTTP_MAX_HDRS: a message with 33 headers is not fingerprinted */
    db = mini_db();
    struct ns_http_header many[NS_P0F_HTTP_MAX_HDRS + 1];
    for (size_t i = 0; i < NS_P0F_HTTP_MAX_HDRS + 1; i++) {
        many[i] = (struct ns_http_header){"Host", 4, "h", 1};
    }
    struct ns_http_msg m = req(many, NS_P0F_HTTP_MAX_HDRS + 1, 1);
    struct ns_p0f_result r;
    char sig[256];
    assert_int_equal(ns_p0f_http(db, &m, &r), NS_ELIMIT);
    assert_int_equal(r.match, NS_P0F_NONE);
    assert_int_equal(ns_p0f_http_sig(db, &m, sig, sizeof(sig)), NS_ELIMIT);
    assert_string_equal(sig, "");
    m.nheaders = NS_P0F_HTTP_MAX_HDRS;
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    ns_p0f_free(db);
}

/*
 * Raw HTTP signatures in p0f's notation: the request is the first one of
 * cs_http_google.pcapng (p0f 3.09b logs exactly this raw_sig for it).
 */
static void test_http_sig(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    char buf[NS_P0F_HTTP_SIG_MAX];
    static const struct ns_http_header rq[] = {
        H("Host", "www.google.com"),
        H("User-Agent", "Mozilla/5.0 (Windows; U; Windows NT 6.1; en-US; rv:1.9.1.7) "
                        "Gecko/20091221 Firefox/3.5.7"),
        H("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        H("Accept-Language", "en-us,en;q=0.5"),
        H("Accept-Encoding", "gzip,deflate"),
        H("Accept-Charset", "ISO-8859-1,utf-8;q=0.7,*;q=0.7"),
        H("Keep-Alive", "300"),
        H("Connection", "keep-alive"),
        H("Cookie", "PREF=ID=1"),
    };
    struct ns_http_msg m = req(rq, 9, 1);
    assert_int_equal(ns_p0f_http_sig(db, &m, buf, sizeof(buf)), 0);
    assert_string_equal(
        buf, "1:Host,User-Agent,Accept=[text/html,application/xhtml+xml,application/xml;q=0.9,*/"
             "*;q=0.8],Accept-Language=[en-us,en;q=0.5],Accept-Encoding=[gzip,deflate],Accept-"
             "Charset=[ISO-8859-1,utf-8;q=0.7,*;q=0.7],Keep-Alive=[300],Connection=[keep-alive],"
             "?Cookie::Mozilla/5.0 (Windows; U; Windows NT 6.1; en-US; rv:1.9.1.7) "
             "Gecko/20091221 Firefox/3.5.7");

    /* HTTP/1.0, missing common headers listed in p0f's order, ']' and a control byte cut a
     * value, '|' cuts only the values of header names p0f knows, an empty value shows none */
    static const struct ns_http_header r2[] = {H("Accept", "a|b]c"), H("X-Odd", "p|q]r"),
                                               H("Connection", "x\x01y"), H("X-Empty", ""),
                                               H("User-Agent", "Opera 7.11  [en]")};
    m = req(r2, 5, 0);
    assert_int_equal(ns_p0f_http_sig(db, &m, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "0:Accept=[a],X-Odd=[p|q],Connection=[x],X-Empty,User-Agent:Host,"
                             "Accept-Encoding,Accept-Language,Accept-Charset,Keep-Alive:"
                             "Opera 7.11  [en");

    /* a response: Date / Content-Type / Server values hidden, optional headers marked */
    static const struct ns_http_header rs[] = {H("Date", "Mon"), H("Server", "gws"),
                                               H("Content-Length", "5"), H("Vary", "Accept"),
                                               H("Content-Type", "text/html")};
    m.kind = NS_HTTP_RESPONSE;
    m.headers = rs;
    m.nheaders = 5;
    m.version_minor = 1;
    assert_int_equal(ns_p0f_http_sig(db, &m, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1:Date,Server,?Content-Length,?Vary,Content-Type:Connection,"
                             "Keep-Alive,Accept-Ranges:gws");

    /* values longer than 200 bytes are cut at 200; a short buffer is cut and terminated */
    char longv[300];
    memset(longv, 'v', sizeof(longv));
    struct ns_http_header lh[1] = {{"X-Long", 6, longv, sizeof(longv)}};
    m.headers = lh;
    m.nheaders = 1;
    assert_int_equal(ns_p0f_http_sig(NULL, &m, buf, sizeof(buf)), 0);
    assert_int_equal(strlen(buf),
                     2 + 6 + 2 + 200 + 1 + 1 + 53 + 1); /* "1:X-Long=[v...]:" + the 5 missing */
    assert_int_equal(ns_p0f_http_sig(db, &m, buf, 10), NS_ELIMIT);
    assert_string_equal(buf, "1:X-Long=");
    assert_int_equal(ns_p0f_http_sig(db, NULL, buf, sizeof(buf)), NS_EINVAL);
    assert_int_equal(ns_p0f_http_sig(db, &m, buf, 0), NS_EINVAL);
    ns_p0f_free(db);
}

static void test_http_response(void **state)
{
    (void)state;
    struct ns_p0f_db *db = mini_db();
    struct ns_p0f_result r;
    static const struct ns_http_header hs[] = {H("Server", "Apache/2.4"), H("Date", "x"),
                                               H("Content-Type", "text/html")};
    struct ns_http_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = NS_HTTP_RESPONSE;
    m.status = 200;
    m.version_major = 1;
    m.version_minor = 1;
    m.headers = hs;
    m.nheaders = 3;
    assert_int_equal(ns_p0f_http(db, &m, &r), 0);
    assert_int_equal(r.match, NS_P0F_EXACT);
    assert_string_equal(r.os, "nginx");
    assert_string_equal(r.flavor, "1.x");
    assert_true(r.dishonest); /* "Apache/2.4" does not contain "nginx" */
    assert_int_equal(r.dist, -1);
    ns_p0f_free(db);
}

/* ------------------------------------------------------ the real p0f.fp */

static void test_real_database(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/p0f/p0f.fp", NS_SHARED_DATA);
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s is absent\n", path);
        skip();
    }
    struct ns_p0f_db *db = NULL;
    struct ns_error err;
    assert_int_equal(ns_p0f_load(&db, path, &err), 0);
    assert_int_equal(ns_p0f_count(db), 322);

    struct sample s;
    struct ns_p0f_result r;
    struct hdr lin = {.ver = 4,
                      .ttl = 64,
                      .ipid = 0x1c46,
                      .frag = 0x4000,
                      .flags = SYN,
                      .seq = 1000,
                      .win = 29200};
    build(&s, &lin, opt_linux, sizeof(opt_linux));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Linux", "3.11 and newer", 0,
           "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0");

    struct hdr win = {
        .ver = 4, .ttl = 128, .ipid = 0x0102, .frag = 0x4000, .flags = SYN, .seq = 77, .win = 8192};
    build(&s, &win, opt_win7, sizeof(opt_win7));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Windows", "7 or 8", 0,
           "4:128+0:0:1460:8192,2:mss,nop,ws,nop,nop,sok:df,id+:0");

    struct hdr bsd = {
        .ver = 4, .ttl = 64, .ipid = 0xbeef, .frag = 0x4000, .flags = SYN, .seq = 5, .win = 65535};
    build(&s, &bsd, opt_mac, sizeof(opt_mac));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "Mac OS X", "10.x", 0,
           "4:64+0:0:1460:65535,3:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0");
    build(&s, &bsd, opt_fbsd, sizeof(opt_fbsd));
    assert_int_equal(ns_p0f_tcp(db, &s.p, &r), 0);
    expect(&r, NS_P0F_EXACT, "FreeBSD", "9.x or newer", 0,
           "4:64+0:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0");
    assert_string_equal(r.link, "Ethernet or modem");
    ns_p0f_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_syn_exact),
        cmocka_unit_test(test_windows_syn_exact_with_distance),
        cmocka_unit_test(test_macos_and_freebsd_exact),
        cmocka_unit_test(test_fuzzy_quirks_and_ttl),
        cmocka_unit_test(test_generic_last),
        cmocka_unit_test(test_no_match_raw_sig),
        cmocka_unit_test(test_application_signature),
        cmocka_unit_test(test_synack_and_peer_mss),
        cmocka_unit_test(test_quirks_all),
        cmocka_unit_test(test_ipv6_flow),
        cmocka_unit_test(test_not_syn),
        cmocka_unit_test(test_parser_errors),
        cmocka_unit_test(test_parser_counts_and_file),
        cmocka_unit_test(test_parser_oom),
        cmocka_unit_test(test_http_request),
        cmocka_unit_test(test_http_name_table),
        cmocka_unit_test(test_http_response),
        cmocka_unit_test(test_http_sig),
        cmocka_unit_test(test_real_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
