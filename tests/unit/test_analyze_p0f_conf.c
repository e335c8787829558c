/*
 * test_analyze_p0f_conf.c - the netsift side of the p0f conformance check
 * (tests/e2e/test_p0f_conformance.sh), plus the unit tests of that side.
 *
 * Run with arguments, the binary prints one line per SYN, SYN+ACK and MTU
 * event of a classic pcap file, in the order p0f 3.09b logs them:
 *
 *   mod|cli=ADDR/PORT|srv=ADDR/PORT|os=LABEL|dist=N|raw_sig=SIG     (syn, syn+ack)
 *   mtu|cli=ADDR/PORT|srv=ADDR/PORT|subj=cli|link=LABEL|raw_mtu=N
 *
 *   usage: test_analyze_p0f_conf --dump P0F.FP FILE.pcap
 *
 * The e2e script first converts every capture (pcapng, .gz) to classic pcap
 * with editcap, so only the classic format is read here (magic a1b2c3d4 or
 * a1b23c4d, either byte order):
 *
 *   global header: magic(4) vmaj(2) vmin(2) zone(4) sigfigs(4) snaplen(4) link(4)
 *   record:        ts_sec(4) ts_frac(4) caplen(4) wirelen(4) data(caplen)
 *
 * MTU lines follow the fingerprint unless it named an application.
 * Which packets p0f fingerprints depends on its connection tracking
 * (process.c flow_dispatch); the same rules are applied here: a SYN that
 * repeats the sequence number of the tracked one is a duplicate; a SYN+ACK
 * needs the SYN of its connection and only the first one counts; an
 * application ("!") signature ends the connection; RST / FIN end it; an ACK
 * before the SYN+ACK ends it. Addresses are written as p0f writes them
 * (IPv6 as eight unpadded hex groups).
 *
 * Without arguments it runs cmocka tests of the dumper on a hand-made pcap.
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
#include "netsift/p0f.h"
#include "netsift/rd.h"

#define MAX_FLOWS  65536
#define MAX_RECORD (256 * 1024)

struct cflow {
    uint8_t ver;
    uint8_t cli[16];
    uint8_t srv[16];
    uint16_t cport;
    uint16_t sport;
    uint32_t seq;
    unsigned syn_mss;
    bool acked;
    bool used;
};

struct tracker {
    struct cflow *flows;
    size_t n;
};

static void fmt_addr(const struct ns_addr *a, char *buf, size_t size)
{
    if (a->family == 4) {
        snprintf(buf, size, "%u.%u.%u.%u", a->a[0], a->a[1], a->a[2], a->a[3]);
        return;
    }
    snprintf(buf, size, "%x:%x:%x:%x:%x:%x:%x:%x", a->a[0] << 8 | a->a[1], a->a[2] << 8 | a->a[3],
             a->a[4] << 8 | a->a[5], a->a[6] << 8 | a->a[7], a->a[8] << 8 | a->a[9],
             a->a[10] << 8 | a->a[11], a->a[12] << 8 | a->a[13], a->a[14] << 8 | a->a[15]);
}

static size_t alen(uint8_t ver)
{
    return ver == 4 ? 4 : 16;
}

/* Find the tracked connection of p; *to_srv says the direction. */
static struct cflow *lookup(struct tracker *t, const struct ns_packet *p, bool *to_srv)
{
    size_t l = alen(p->ipver);
    for (size_t i = 0; i < t->n; i++) {
        struct cflow *f = &t->flows[i];
        if (!f->used || f->ver != p->ipver) {
            continue;
        }
        if (p->sport == f->cport && p->dport == f->sport && memcmp(p->src.a, f->cli, l) == 0 &&
            memcmp(p->dst.a, f->srv, l) == 0) {
            *to_srv = true;
            return f;
        }
        if (p->dport == f->cport && p->sport == f->sport && memcmp(p->dst.a, f->cli, l) == 0 &&
            memcmp(p->src.a, f->srv, l) == 0) {
            *to_srv = false;
            return f;
        }
    }
    return NULL;
}

static struct cflow *create(struct tracker *t, const struct ns_packet *p)
{
    struct cflow *f = NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->flows[i].used) {
            f = &t->flows[i];
            break;
        }
    }
    if (f == NULL) {
        if (t->n == MAX_FLOWS) {
            return NULL;
        }
        f = &t->flows[t->n++];
    }
    memset(f, 0, sizeof(*f));
    f->used = true;
    f->ver = p->ipver;
    memcpy(f->cli, p->src.a, 16);
    memcpy(f->srv, p->dst.a, 16);
    f->cport = p->sport;
    f->sport = p->dport;
    f->seq = p->seq;
    return f;
}

static void print_event(FILE *out, const char *mod, const struct cflow *f,
                        const struct ns_p0f_result *r)
{
    struct ns_addr c = {.family = f->ver};
    struct ns_addr s = {.family = f->ver};
    char cb[64];
    char sb[64];
    char label[160];
    memcpy(c.a, f->cli, 16);
    memcpy(s.a, f->srv, 16);
    fmt_addr(&c, cb, sizeof(cb));
    fmt_addr(&s, sb, sizeof(sb));
    fprintf(out, "%s|cli=%s/%u|srv=%s/%u|os=%s|dist=%s%d|raw_sig=%s\n", mod, cb, f->cport, sb,
            f->sport, ns_p0f_label(r, label, sizeof(label)), r->random_ttl ? "<= " : "", r->dist,
            r->raw_sig);
    if (r->mtu != 0 && !(r->os != NULL && strcmp(r->class_, "!") == 0)) {
        fprintf(out, "mtu|cli=%s/%u|srv=%s/%u|subj=%s|link=%s|raw_mtu=%u\n", cb, f->cport, sb,
                f->sport, strcmp(mod, "syn") == 0 ? "cli" : "srv",
                r->link != NULL ? r->link : "???", r->mtu);
    }
}

static bool is_app(const struct ns_p0f_result *r)
{
    return r->os != NULL && strcmp(r->class_, "!") == 0;
}

static void handle(struct tracker *t, const struct ns_p0f_db *db, const struct ns_packet *p,
                   FILE *out)
{
    bool to_srv = false;
    struct cflow *f = lookup(t, p, &to_srv);
    uint8_t type = p->tcp_flags & (NS_TCP_SYN | NS_TCP_ACK | NS_TCP_FIN | NS_TCP_RST);
    struct ns_p0f_result r;
    if (type == NS_TCP_SYN) {
        if (f != NULL && to_srv && f->seq == p->seq) {
            return;
        }
        if (f != NULL) {
            f->used = false;
        }
        f = create(t, p);
        if (f == NULL || ns_p0f_tcp(db, p, &r) != 0) {
            return;
        }
        print_event(out, "syn", f, &r);
        f->syn_mss = r.mtu != 0 ? r.mtu - (p->ipver == 4 ? 40 : 60) : 0;
        if (is_app(&r)) {
            f->used = false;
        }
    } else if (type == (NS_TCP_SYN | NS_TCP_ACK)) {
        if (f == NULL || to_srv || f->acked) {
            return;
        }
        f->acked = true;
        if (ns_p0f_tcp_peer(db, p, f->syn_mss, &r) != 0) {
            return;
        }
        print_event(out, "syn+ack", f, &r);
        if (is_app(&r)) {
            f->used = false;
        }
    } else if (type & (NS_TCP_FIN | NS_TCP_RST)) {
        if (f != NULL) {
            f->used = false;
        }
    } else if (type == NS_TCP_ACK) {
        if (f != NULL && !f->acked) {
            f->used = false;
        }
    }
}

/* Read a classic pcap file and print the p0f events; 0 or -1 (message on stderr). */
static int dump_pcap(const char *path, const struct ns_p0f_db *db, FILE *out)
{
    FILE *in = fopen(path, "rb");
    uint8_t gh[24];
    uint8_t rh[16];
    uint8_t *buf = NULL;
    struct tracker t = {0};
    int rc = -1;
    if (in == NULL) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    buf = ns_malloc(MAX_RECORD);
    t.flows = ns_calloc(MAX_FLOWS, sizeof(*t.flows));
    if (buf == NULL || t.flows == NULL || fread(gh, 1, sizeof(gh), in) != sizeof(gh)) {
        fprintf(stderr, "%s: short file\n", path);
        goto out;
    }
    struct ns_rd r;
    ns_rd_init(&r, gh, sizeof(gh), 0);
    uint32_t magic = ns_rd_le32(&r);
    bool le = magic == 0xa1b2c3d4u || magic == 0xa1b23c4du;
    bool be = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
    if (!le && !be) {
        fprintf(stderr, "%s: not a classic pcap file\n", path);
        goto out;
    }
    (void)ns_rd_skip(&r, 16);
    int link = (int)((le ? ns_rd_le32(&r) : ns_rd_be32(&r)) & 0xffff);
    for (uint64_t idx = 1;; idx++) {
        if (fread(rh, 1, sizeof(rh), in) != sizeof(rh)) {
            break;
        }
        ns_rd_init(&r, rh, sizeof(rh), 0);
        (void)ns_rd_skip(&r, 8);
        uint32_t caplen = le ? ns_rd_le32(&r) : ns_rd_be32(&r);
        uint32_t wirelen = le ? ns_rd_le32(&r) : ns_rd_be32(&r);
        if (caplen > MAX_RECORD || fread(buf, 1, caplen, in) != caplen) {
            break;
        }
        struct ns_packet p;
        memset(&p, 0, sizeof(p));
        p.data = buf;
        p.caplen = caplen;
        p.wirelen = wirelen;
        p.linktype = link;
        p.index = idx;
        if (ns_decode_packet(&p, NULL, NULL) != 0 || !(p.flags & NS_PKT_F_HAS_L4) ||
            p.proto != NS_IPPROTO_TCP) {
            continue;
        }
        handle(&t, db, &p, out);
    }
    rc = 0;
out:
    ns_free(buf);
    ns_free(t.flows);
    fclose(in);
    return rc;
}

/* ---- unit tests of the dumper ---- */

/* Ethernet + IPv4 + TCP SYN from 10.0.0.1:40000 to 10.0.0.2:80, Linux 3.11+ options. */
static const uint8_t syn_frame[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00, /* eth */
    0x45, 0x00, 0x00, 0x3c,                         /* IPv4, IHL 5, tos 0, total 60 */
    0x12, 0x34, 0x40, 0x00,                         /* id 0x1234, DF */
    0x40, 0x06, 0x00, 0x00,                         /* ttl 64, TCP, checksum */
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, /* 10.0.0.1 -> 10.0.0.2 */
    0x9c, 0x40, 0x00, 0x50,                         /* 40000 -> 80 */
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq 4096, ack 0 */
    0xa0, 0x02, 0x72, 0x10,                         /* doff 10, SYN, win 29200 = 1460*20 */
    0x00, 0x00, 0x00, 0x00,                         /* checksum, urg */
    0x02, 0x04, 0x05, 0xb4,                         /* mss 1460 */
    0x04, 0x02,                                     /* sok */
    0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* ts 1, 0 */
    0x01,                                                       /* nop */
    0x03, 0x03, 0x07,                                           /* ws 7 */
};

/* The SYN+ACK answer: ttl 64, no options, win 14600 = 10 * the client's MSS. */
static const uint8_t synack_frame[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00, /* eth */
    0x45, 0x00, 0x00, 0x28,                         /* IPv4, total 40 */
    0x00, 0x00, 0x40, 0x00,                         /* id 0, DF */
    0x40, 0x06, 0x00, 0x00,                         /* ttl 64, TCP */
    0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, /* 10.0.0.2 -> 10.0.0.1 */
    0x00, 0x50, 0x9c, 0x40,                         /* 80 -> 40000 */
    0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x10, 0x01, /* seq 8192, ack 4097 */
    0x50, 0x12, 0x39, 0x08,                         /* doff 5, SYN+ACK, win 14600 */
    0x00, 0x00, 0x00, 0x00,                         /* checksum, urg */
};

static void put32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    assert_int_equal(fwrite(b, 1, 4, f), 4);
}

static void put_record(FILE *f, const uint8_t *d, size_t n)
{
    put32(f, 1);
    put32(f, 0);
    put32(f, (uint32_t)n);
    put32(f, (uint32_t)n);
    assert_int_equal(fwrite(d, 1, n, f), n);
}

static const char *const mini_db = "classes = win,unix,other\n"
                                   "[mtu]\n"
                                   "label = Ethernet or modem\n"
                                   "sig = 1500\n"
                                   "[tcp:request]\n"
                                   "label = s:unix:Linux:3.11 and newer\n"
                                   "sig = *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0\n"
                                   "[tcp:response]\n"
                                   "label = g:unix:Linux:\n"
                                   "sig = *:64:0:*:14600,0::df:0\n";

static void test_dump_handshake(void **state)
{
    (void)state;
    char path[] = "/tmp/ns_p0f_conf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    put32(f, 0xa1b2c3d4u);
    put32(f, 0x00040002u); /* version 2.4 */
    put32(f, 0);
    put32(f, 0);
    put32(f, 65535);
    put32(f, 1);
    put_record(f, syn_frame, sizeof(syn_frame));
    put_record(f, syn_frame, sizeof(syn_frame)); /* duplicate SYN: not an event */
    put_record(f, synack_frame, sizeof(synack_frame));
    put_record(f, synack_frame, sizeof(synack_frame)); /* repeated SYN+ACK: not an event */
    assert_int_equal(fclose(f), 0);

    struct ns_p0f_db *db = NULL;
    struct ns_error err;
    assert_int_equal(ns_p0f_load_buffer(&db, mini_db, strlen(mini_db), "mini.fp", &err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(dump_pcap(path, db, out), 0);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(text,
                        "syn|cli=10.0.0.1/40000|srv=10.0.0.2/80|os=Linux 3.11 and newer|dist=0|"
                        "raw_sig=4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0\n"
                        "mtu|cli=10.0.0.1/40000|srv=10.0.0.2/80|subj=cli|link=Ethernet or modem|"
                        "raw_mtu=1500\n"
                        "syn+ack|cli=10.0.0.1/40000|srv=10.0.0.2/80|os=Linux|dist=0|"
                        "raw_sig=4:64+0:0:0:14600,0::df:0\n");
    free(text); /* open_memstream's buffer comes from the C library */
    ns_p0f_free(db);
    unlink(path);
}

static void test_dump_rejects_non_pcap(void **state)
{
    (void)state;
    char path[] = "/tmp/ns_p0f_conf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const uint8_t junk[24] = {0x0a, 0x0d, 0x0d, 0x0a}; /* a pcapng magic */
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    FILE *out = fopen("/dev/null", "w");
    assert_non_null(out);
    assert_int_equal(dump_pcap(path, NULL, out), -1);
    fclose(out);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--dump") == 0) {
        struct ns_p0f_db *db = NULL;
        struct ns_error err;
        if (ns_p0f_load(&db, argv[2], &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        int rc = dump_pcap(argv[3], db, stdout);
        ns_p0f_free(db);
        return rc == 0 ? 0 : 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_handshake),
        cmocka_unit_test(test_dump_rejects_non_pcap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
