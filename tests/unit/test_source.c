/*
 * test_source.c - the source stage: pcap (both byte orders, micro and nano),
 * pcapng (several interfaces and link types, both byte orders), gzip,
 * standard input, directories merged by time, repeated paths, the open-file
 * cap, BPF, and the exact error messages with their offsets.
 *
 * Captures are built byte by byte in a temporary directory (mkdtemp); the
 * real captures of the shared data folder are read when it exists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "netsift/source.h"

static char g_dir[64];

/* ---- builders ---- */

struct buf {
    uint8_t b[8192];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->b));
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put32(struct buf *b, bool be, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++) {
        x[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    }
    put(b, x, 4);
}

static void put16(struct buf *b, bool be, uint16_t v)
{
    uint8_t x[2];
    x[be ? 1 : 0] = (uint8_t)v;
    x[be ? 0 : 1] = (uint8_t)(v >> 8);
    put(b, x, 2);
}

/* classic pcap file header: magic, version 2.4, zone 0, sigfigs 0, snaplen, linktype */
static void pcap_hdr(struct buf *b, bool be, bool nano, uint32_t snap, uint32_t linktype)
{
    put32(b, be, nano ? 0xa1b23c4du : 0xa1b2c3d4u);
    put16(b, be, 2);
    put16(b, be, 4);
    put32(b, be, 0);
    put32(b, be, 0);
    put32(b, be, snap);
    put32(b, be, linktype);
}

/* record header (seconds, fraction, caplen, wire length) and caplen bytes of `fill` */
static void pcap_rec(struct buf *b, bool be, uint32_t sec, uint32_t frac, uint32_t caplen,
                     uint32_t wirelen, uint8_t fill)
{
    put32(b, be, sec);
    put32(b, be, frac);
    put32(b, be, caplen);
    put32(b, be, wirelen);
    for (uint32_t i = 0; i < caplen; i++) {
        put(b, &fill, 1);
    }
}

static char *path_of(const char *name)
{
    static char p[8][256];
    static int k;
    char *r = p[k++ % 8];
    snprintf(r, 256, "%s/%s", g_dir, name);
    return r;
}

static const char *write_file(const char *name, const void *data, size_t n)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}

/* a file with records at the given seconds (fraction 0), 60 bytes each, fill = index */
static const char *write_times(const char *name, const uint32_t *secs, size_t n)
{
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    for (size_t i = 0; i < n; i++) {
        pcap_rec(&b, false, secs[i], 0, 60, 60, (uint8_t)(i + 1));
    }
    return write_file(name, b.b, b.n);
}

/* ---- reading ---- */

struct got {
    size_t n;
    uint64_t ts[64];
    uint32_t caplen[64];
    uint32_t wirelen[64];
    int linktype[64];
    uint64_t index[64];
    uint8_t first[64];
    char name[64][256];
    int nerr;
    int err_code[8];
    char err[8][256];
    int err_after[8]; /* frames returned before the error */
};

static void drain(struct ns_source *s, struct got *g)
{
    struct ns_frame f;
    struct ns_error e;
    memset(g, 0, sizeof(*g));
    for (;;) {
        int rc = ns_source_next(s, &f, &e);
        if (rc == NS_EOF) {
            break;
        }
        if (rc != 0) {
            assert_true(g->nerr < 8);
            g->err_code[g->nerr] = rc;
            snprintf(g->err[g->nerr], 256, "%s", e.msg);
            g->err_after[g->nerr] = (int)g->n;
            g->nerr++;
            continue;
        }
        assert_true(g->n < 64);
        g->ts[g->n] = f.ts_ns;
        g->caplen[g->n] = f.caplen;
        g->wirelen[g->n] = f.wirelen;
        g->linktype[g->n] = f.linktype;
        g->index[g->n] = f.index;
        g->first[g->n] = f.caplen > 0 ? f.data[0] : 0;
        snprintf(g->name[g->n], 256, "%s", f.src_name);
        g->n++;
    }
    /* NS_EOF is sticky */
    assert_int_equal(ns_source_next(s, &f, &e), NS_EOF);
}

static struct ns_source *open_paths(const char *const *paths, size_t n, const char *bpf,
                                    size_t max_open)
{
    struct ns_source_opts o = {.paths = paths, .npaths = n, .bpf = bpf, .max_open_files = max_open};
    struct ns_source *s = NULL;
    struct ns_error e = {0};
    int rc = ns_source_open(&s, &o, &e);
    if (rc != 0) {
        fail_msg("open failed: %s", e.msg);
    }
    return s;
}

static void read_paths(const char *const *paths, size_t n, const char *bpf, size_t max_open,
                       struct got *g, struct ns_source_stats *st)
{
    struct ns_source *s = open_paths(paths, n, bpf, max_open);
    drain(s, g);
    if (st != NULL) {
        *st = *ns_source_stats(s);
    }
    ns_source_free(s);
}

static void read_one(const char *path, struct got *g, struct ns_source_stats *st)
{
    read_paths(&path, 1, NULL, 0, g, st);
}

/* ---- classic pcap ---- */

static void test_pcap_le_micro(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    pcap_rec(&b, false, 1700000000, 123456, 60, 60, 0xaa);
    pcap_rec(&b, false, 1700000001, 999999, 42, 1514, 0xbb);
    const char *p = write_file("le_micro.pcap", b.b, b.n);
    struct got g;
    struct ns_source_stats st;
    read_one(p, &g, &st);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 2);
    assert_true(g.ts[0] == UINT64_C(1700000000123456000));
    assert_true(g.ts[1] == UINT64_C(1700000001999999000));
    assert_int_equal(g.caplen[1], 42);
    assert_int_equal(g.wirelen[1], 1514);
    assert_int_equal(g.linktype[0], 1);
    assert_int_equal(g.index[0], 1);
    assert_int_equal(g.index[1], 2);
    assert_int_equal(g.first[0], 0xaa);
    assert_int_equal(g.first[1], 0xbb);
    assert_string_equal(g.name[0], p);
    assert_int_equal(st.inputs, 1);
    assert_int_equal(st.frames, 2);
    assert_int_equal(st.bytes, 102);
    assert_int_equal(st.inputs_failed, 0);
}

static void test_pcap_be_nano(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    pcap_hdr(&b, true, true, 262144, 101); /* LINKTYPE_RAW: libpcap reports DLT_RAW 12 */
    pcap_rec(&b, true, 1418145369, 924505488, 20, 20, 0x45);
    pcap_rec(&b, true, 1418145370, 1, 28, 40, 0x60);
    const char *p = write_file("be_nano.pcap", b.b, b.n);
    struct got g;
    read_one(p, &g, NULL);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 2);
    assert_true(g.ts[0] == UINT64_C(1418145369924505488));
    assert_true(g.ts[1] == UINT64_C(1418145370000000001));
    assert_int_equal(g.linktype[0], 12);
    assert_int_equal(g.caplen[1], 28);
    assert_int_equal(g.wirelen[1], 40);
    assert_int_equal(g.first[1], 0x60);
}

static void test_pcap_gzip(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, true, 65535, 1);
    for (uint32_t i = 0; i < 20; i++) {
        pcap_rec(&b, false, 1000 + i, i * 7, 100 + i, 200, (uint8_t)i);
    }
    const char *plain = write_file("plain.pcap", b.b, b.n);
    /* compressed with zlib, and named without .gz: detected by its magic */
    const char *gzp = path_of("compressed.cap");
    gzFile z = gzopen(gzp, "wb9");
    assert_non_null(z);
    assert_int_equal(gzwrite(z, b.b, (unsigned)b.n), (int)b.n);
    gzclose(z);
    struct got a;
    struct got c;
    read_one(plain, &a, NULL);
    read_one(gzp, &c, NULL);
    assert_int_equal(a.nerr, 0);
    assert_int_equal(c.nerr, 0);
    assert_int_equal(a.n, 20);
    assert_int_equal(c.n, 20);
    for (size_t i = 0; i < 20; i++) {
        assert_true(a.ts[i] == c.ts[i]);
        assert_int_equal(a.caplen[i], c.caplen[i]);
        assert_int_equal(a.first[i], c.first[i]);
    }
    assert_true(c.ts[19] == UINT64_C(1019000000133));
}

static void test_gzip_cut(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    for (uint32_t i = 0; i < 50; i++) {
        pcap_rec(&b, false, 1000 + i, 0, 100, 100, (uint8_t)(i * 13));
    }
    uint8_t out[8192];
    uLongf olen = sizeof(out);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = b.b;
    zs.avail_in = (uInt)b.n;
    zs.next_out = out;
    zs.avail_out = (uInt)olen;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    olen = zs.total_out;
    deflateEnd(&zs);
    /* cut the compressed file in the middle: frames before, then one error, no crash */
    const char *p = write_file("cut.pcap.gz", out, olen / 2);
    struct got g;
    read_one(p, &g, NULL);
    assert_int_equal(g.nerr, 1);
    assert_true(g.n < 50);
    assert_int_equal(g.err_after[0], (int)g.n);
    assert_non_null(strstr(g.err[0], "gzip: unexpected end of compressed data at offset"));
}

static void test_stdin(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    pcap_rec(&b, false, 5, 6, 10, 10, 0x11);
    pcap_rec(&b, false, 7, 8, 11, 11, 0x22);
    const char *gzp = path_of("stdin.pcap.gz");
    gzFile z = gzopen(gzp, "wb");
    assert_non_null(z);
    assert_int_equal(gzwrite(z, b.b, (unsigned)b.n), (int)b.n);
    gzclose(z);
    const char *plain = write_file("stdin.pcap", b.b, b.n);
    const char *files[] = {plain, gzp};
    for (int k = 0; k < 2; k++) {
        int saved = dup(0);
        FILE *f = fopen(files[k], "rb");
        assert_non_null(f);
        assert_int_equal(dup2(fileno(f), 0), 0);
        fclose(f);
        const char *dash = "-";
        struct got g;
        read_one(dash, &g, NULL);
        dup2(saved, 0);
        close(saved);
        assert_int_equal(g.nerr, 0);
        assert_int_equal(g.n, 2);
        assert_string_equal(g.name[0], "-");
        assert_true(g.ts[0] == UINT64_C(5000006000));
        assert_int_equal(g.first[1], 0x22);
    }
    /* standard input only once */
    const char *two[] = {"-", "-"};
    struct ns_source_opts o = {.paths = two, .npaths = 2};
    struct ns_source *s = NULL;
    struct ns_error e;
    assert_int_equal(ns_source_open(&s, &o, &e), NS_EINVAL);
    assert_null(s);
}

/* ---- merging ---- */

static void test_dir_merge(void **state)
{
    (void)state;
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/dir", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/dir/deeper", g_dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    /* name order a, b, deeper/c; time order b1 c1 a1 a2 b2 */
    const uint32_t ta[] = {30, 31};
    const uint32_t tb[] = {10, 40};
    const uint32_t tc[] = {20};
    write_times("dir/a.pcap", ta, 2);
    write_times("dir/b.pcap", tb, 2);
    write_times("dir/deeper/c.pcap", tc, 1);
    write_file("dir/notes.txt", "not a capture at all\n", 21);
    write_times("dir/.hidden.pcap", ta, 2);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/dir", g_dir);
    const char *paths[] = {dir};
    struct got g;
    struct ns_source_stats st;
    read_paths(paths, 1, NULL, 0, &g, &st);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 5);
    const uint64_t want_ts[] = {10, 20, 30, 31, 40};
    const char *want_name[] = {"b.pcap", "deeper/c.pcap", "a.pcap", "a.pcap", "b.pcap"};
    const uint64_t want_idx[] = {1, 1, 1, 2, 2};
    for (size_t i = 0; i < 5; i++) {
        char full[600];
        snprintf(full, sizeof(full), "%s/%s", dir, want_name[i]);
        assert_true(g.ts[i] == want_ts[i] * UINT64_C(1000000000));
        assert_string_equal(g.name[i], full);
        assert_int_equal(g.index[i], want_idx[i]);
    }
    assert_int_equal(st.inputs, 3);
    assert_int_equal(st.files_skipped, 1);
    assert_int_equal(st.out_of_order, 0);
    assert_int_equal(st.inputs_failed, 0);

    /* the same with at most one file open at a time: files are parked and reopened */
    read_paths(paths, 1, NULL, 1, &g, &st);
    assert_int_equal(g.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_true(g.ts[i] == want_ts[i] * UINT64_C(1000000000));
        assert_int_equal(g.index[i], want_idx[i]);
    }
    assert_int_equal(g.first[4], 2); /* b.pcap's second record, read after a reopen */
}

static void test_repeated_paths(void **state)
{
    (void)state;
    const uint32_t t[] = {1, 2, 3};
    const char *p = write_times("rep.pcap", t, 3);
    const char *paths[] = {p, p};
    struct got g;
    struct ns_source_stats st;
    read_paths(paths, 2, NULL, 0, &g, &st);
    assert_int_equal(g.n, 6);
    /* equal timestamps: the first path first, every time */
    const uint64_t want_idx[] = {1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < 6; i++) {
        assert_true(g.ts[i] == (i / 2 + 1) * UINT64_C(1000000000));
        assert_int_equal(g.index[i], want_idx[i]);
    }
    assert_int_equal(st.inputs, 2);
}

static void test_out_of_order_file(void **state)
{
    (void)state;
    const uint32_t t1[] = {5, 3, 8};
    const uint32_t t2[] = {4};
    const char *paths[] = {write_times("ooo1.pcap", t1, 3), write_times("ooo2.pcap", t2, 1)};
    struct got g;
    struct ns_source_stats st;
    read_paths(paths, 2, NULL, 0, &g, &st);
    /* 4 (ooo2), 5, 3, 8: one file's frames are never reordered */
    assert_int_equal(g.n, 4);
    const uint64_t want[] = {4, 5, 3, 8};
    for (size_t i = 0; i < 4; i++) {
        assert_true(g.ts[i] == want[i] * UINT64_C(1000000000));
    }
    assert_int_equal(st.out_of_order, 1);
}

/* ---- BPF ---- */

/* Ethernet + IPv4 + TCP or UDP with the given destination port (54 or 42 bytes) */
static void eth_ip_l4(struct buf *b, uint32_t sec, uint8_t proto, uint16_t dport)
{
    uint8_t f[54];
    size_t n = proto == 6 ? 54 : 42;
    memset(f, 0, sizeof(f));
    f[12] = 0x08; /* ethertype IPv4 */
    f[14] = 0x45; /* version 4, IHL 5 */
    f[16] = 0;
    f[17] = (uint8_t)(n - 14); /* total length */
    f[22] = 64;                /* TTL */
    f[23] = proto;
    f[26] = 10, f[29] = 1;      /* 10.0.0.1 */
    f[30] = 10, f[33] = 2;      /* 10.0.0.2 */
    f[34] = 0x30, f[35] = 0x39; /* source port 12345 */
    f[36] = (uint8_t)(dport >> 8);
    f[37] = (uint8_t)dport;
    if (proto == 6) {
        f[46] = 0x50; /* data offset 5 */
    } else {
        f[39] = 8; /* UDP length */
    }
    put32(b, false, sec);
    put32(b, false, 0);
    put32(b, false, (uint32_t)n);
    put32(b, false, (uint32_t)n);
    put(b, f, n);
}

static void test_bpf(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    eth_ip_l4(&b, 1, 6, 22);
    eth_ip_l4(&b, 2, 6, 80);
    eth_ip_l4(&b, 3, 17, 80);
    eth_ip_l4(&b, 4, 6, 80);
    const char *p = write_file("bpf.pcap", b.b, b.n);
    struct got g;
    struct ns_source_stats st;
    read_paths(&p, 1, "tcp port 80", 0, &g, &st);
    assert_int_equal(g.n, 2);
    assert_true(g.ts[0] == UINT64_C(2000000000));
    assert_true(g.ts[1] == UINT64_C(4000000000));
    assert_int_equal(g.index[1], 4);
    assert_int_equal(st.filtered, 2);
    assert_int_equal(st.frames, 2);
    /* and across two inputs (the heap path) */
    const char *two[] = {p, p};
    read_paths(two, 2, "udp", 0, &g, &st);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.index[0], 3);
    assert_int_equal(st.filtered, 6);

    struct ns_source_opts o = {.paths = &p, .npaths = 1, .bpf = "tcp port"};
    struct ns_source *s = NULL;
    struct ns_error e;
    assert_int_equal(ns_source_open(&s, &o, &e), NS_EINVAL);
    assert_null(s);
    assert_string_equal(e.msg, "bpf: can't parse filter expression: syntax error");
}

/* ---- errors ---- */

static struct buf two_good(void)
{
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    pcap_rec(&b, false, 1, 0, 60, 60, 1);
    pcap_rec(&b, false, 2, 0, 60, 60, 2);
    return b;
}

static void expect_error(const char *name, const struct buf *b, size_t frames, int code,
                         const char *what)
{
    const char *p = write_file(name, b->b, b->n);
    struct got g;
    struct ns_source_stats st;
    read_one(p, &g, &st);
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", p, what);
    assert_int_equal(g.n, frames);
    assert_int_equal(g.nerr, 1);
    assert_int_equal(g.err_after[0], (int)frames);
    assert_int_equal(g.err_code[0], code);
    assert_string_equal(g.err[0], want);
    assert_int_equal(st.inputs_failed, 1);
}

static void test_errors(void **state)
{
    (void)state;
    /* two records of 16 + 60 bytes after the 24-byte header: the third is at 176 */
    struct buf b = two_good();
    uint8_t partial[10] = {0};
    put(&b, partial, sizeof(partial));
    expect_error("trunc_hdr.pcap", &b, 2, NS_ETRUNC, "truncated record header at offset 176");

    b = two_good();
    pcap_rec(&b, false, 3, 0, 60, 60, 3);
    b.n -= 7;
    expect_error("trunc_data.pcap", &b, 2, NS_ETRUNC,
                 "truncated file, record data cut at offset 176");

    b = two_good();
    put32(&b, false, 3);
    put32(&b, false, 0);
    put32(&b, false, 300000);
    put32(&b, false, 300000);
    expect_error("huge.pcap", &b, 2, NS_EMALFORMED,
                 "record length 300000 exceeds snap length 65535 at offset 176");

    struct buf t = {.n = 0};
    put(&t, "GIF89a\x01\x00\x01\x00", 10);
    expect_error("bad_magic.pcap", &t, 0, NS_EMALFORMED,
                 "not a capture file (bad magic 0x47494638) at offset 0");

    t.n = 0;
    pcap_hdr(&t, false, false, 65535, 1);
    t.n = 20;
    expect_error("short_hdr.pcap", &t, 0, NS_ETRUNC, "truncated file header at offset 0");
}

/*
 * Older and rarer classic pcap headers, read as libpcap 1.10 reads them:
 * version 2.2 (caplen and length swapped when caplen is the larger),
 * Kuznetzov's patched format (24-byte record headers), FCS bits in the link
 * type, a snap length of 0 (262144), and a version below 2 (refused).
 */
static void test_pcap_variants(void **state)
{
    (void)state;
    struct got g;
    struct buf b = {.n = 0};
    pcap_hdr(&b, false, false, 65535, 1);
    b.b[6] = 2; /* minor version 2 */
    pcap_rec(&b, false, 10, 0, 60, 60, 0x11);
    put32(&b, false, 11);
    put32(&b, false, 0);
    put32(&b, false, 1514); /* the original length, where 2.3+ has caplen */
    put32(&b, false, 60);
    for (int i = 0; i < 60; i++) {
        put(&b, "\x22", 1);
    }
    read_one(write_file("v22.pcap", b.b, b.n), &g, NULL);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.caplen[1], 60);
    assert_int_equal(g.wirelen[1], 1514);
    assert_int_equal(g.first[1], 0x22);

    b.n = 0;
    pcap_hdr(&b, true, false, 65535, 0x10000001u); /* FCS bits over LINKTYPE_ETHERNET */
    b.b[2] = 0xcd;                                 /* a1 b2 cd 34: Kuznetzov */
    b.b[3] = 0x34;
    for (uint32_t i = 0; i < 2; i++) {
        put32(&b, true, 20 + i);
        put32(&b, true, 5);
        put32(&b, true, 40);
        put32(&b, true, 40);
        put32(&b, true, 3);     /* ifindex */
        put16(&b, true, 0x800); /* protocol */
        put(&b, "\x00\x00", 2); /* pkt_type, pad */
        for (int k = 0; k < 40; k++) {
            uint8_t v = (uint8_t)(0x30 + i);
            put(&b, &v, 1);
        }
    }
    read_one(write_file("kuz.pcap", b.b, b.n), &g, NULL);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.ts[1], UINT64_C(21000005000));
    assert_int_equal(g.caplen[1], 40);
    assert_int_equal(g.first[1], 0x31);
    assert_int_equal(g.linktype[0], 1);

    b.n = 0;
    pcap_hdr(&b, false, false, 65535, 1);
    b.b[4] = 1; /* version 1.4 */
    expect_error("v1.pcap", &b, 0, NS_EMALFORMED,
                 "bad file header at offset 0 (archaic pcap savefile format 1.4)");
}

/*
 * Records larger than the reading buffer: with the open-file cap at 1 the
 * second file gets the small (64 KiB) buffer, which grows for its
 * 100000-byte record; the snap length 0 in the header means 262144.
 */
static void test_pcap_big_records(void **state)
{
    (void)state;
    static uint8_t data[100000];
    const char *paths[2];
    for (int f = 0; f < 2; f++) {
        char name[32];
        snprintf(name, sizeof(name), "big%d.pcap", f);
        struct buf b = {.n = 0};
        pcap_hdr(&b, false, false, 0, 1);
        put32(&b, false, 100 + (uint32_t)f);
        put32(&b, false, 0);
        put32(&b, false, sizeof(data));
        put32(&b, false, sizeof(data));
        paths[f] = path_of(name);
        FILE *fp = fopen(paths[f], "wb");
        assert_non_null(fp);
        memset(data, 0x40 + f, sizeof(data));
        assert_int_equal(fwrite(b.b, 1, b.n, fp), b.n);
        assert_int_equal(fwrite(data, 1, sizeof(data), fp), sizeof(data));
        fclose(fp);
    }
    struct got g;
    read_paths(paths, 2, NULL, 1, &g, NULL);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.caplen[0], sizeof(data));
    assert_int_equal(g.caplen[1], sizeof(data));
    assert_int_equal(g.first[0], 0x40);
    assert_int_equal(g.first[1], 0x41);
}

static void test_snaplen_exceeded(void **state)
{
    (void)state;
    /* a record of 70000 bytes in a file whose snap length is 65535, written to disk */
    const char *p = path_of("snap.pcap");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    struct buf b = two_good();
    put32(&b, false, 3);
    put32(&b, false, 0);
    put32(&b, false, 70000);
    put32(&b, false, 70000);
    fwrite(b.b, 1, b.n, f);
    static uint8_t zero[70000 + 76];
    fwrite(zero, 1, 70000, f);
    /* and one good record after it, never returned */
    b.n = 0;
    pcap_rec(&b, false, 4, 0, 60, 60, 4);
    fwrite(b.b, 1, b.n, f);
    fclose(f);
    struct got g;
    read_one(p, &g, NULL);
    char want[512];
    snprintf(want, sizeof(want), "%s: record length 70000 exceeds snap length 65535 at offset 176",
             p);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.nerr, 1);
    assert_string_equal(g.err[0], want);

    /* a record exactly as long as the snap length, cut from a longer frame: fine */
    b.n = 0;
    pcap_hdr(&b, false, false, 96, 1);
    pcap_rec(&b, false, 1, 0, 96, 1500, 9);
    pcap_rec(&b, false, 2, 0, 96, 1500, 9);
    read_one(write_file("snap96.pcap", b.b, b.n), &g, NULL);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.wirelen[1], 1500);
}

static void test_error_then_other_input(void **state)
{
    (void)state;
    struct buf b = two_good();
    pcap_rec(&b, false, 3, 0, 60, 60, 3);
    b.n -= 30;
    const char *bad = write_file("mid_error.pcap", b.b, b.n);
    const uint32_t t[] = {10, 11};
    const char *good = write_times("after.pcap", t, 2);
    const char *missing_magic = write_file("zero.pcap", "\0\0\0\0\0\0\0\0", 8);
    const char *paths[] = {bad, good, missing_magic};
    struct got g;
    struct ns_source_stats st;
    read_paths(paths, 3, NULL, 0, &g, &st);
    /* the bad header is found while peeking: reported first */
    assert_int_equal(g.nerr, 2);
    char want[512];
    snprintf(want, sizeof(want), "%s: not a capture file (bad magic 0x00000000) at offset 0",
             missing_magic);
    assert_string_equal(g.err[0], want);
    assert_int_equal(g.err_after[0], 0);
    snprintf(want, sizeof(want), "%s: truncated file, record data cut at offset 176", bad);
    assert_string_equal(g.err[1], want);
    assert_int_equal(g.err_after[1], 2);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.name[0], bad);
    assert_string_equal(g.name[1], bad);
    assert_string_equal(g.name[2], good);
    assert_string_equal(g.name[3], good);
    assert_int_equal(st.inputs, 3);
    assert_int_equal(st.inputs_failed, 2);
}

static void test_open_errors(void **state)
{
    (void)state;
    const char *p = path_of("does-not-exist.pcap");
    struct ns_source_opts o = {.paths = &p, .npaths = 1};
    struct ns_source *s = NULL;
    struct ns_error e;
    assert_int_equal(ns_source_open(&s, &o, &e), NS_ENOENT);
    assert_null(s);
    char want[512];
    snprintf(want, sizeof(want), "%s: No such file or directory", p);
    assert_string_equal(e.msg, want);

    struct ns_source_opts none = {.npaths = 0};
    assert_int_equal(ns_source_open(&s, &none, &e), NS_EINVAL);

    struct ns_source_opts live = {.iface = "nsnosuchif0"};
    assert_true(ns_source_open(&s, &live, &e) < 0);
    assert_null(s);
    assert_true(strncmp(e.msg, "nsnosuchif0: ", 13) == 0);
}

/* ---- pcapng ---- */

static void ng_block(struct buf *b, bool be, uint32_t type, const struct buf *body)
{
    uint32_t len = 12 + (uint32_t)body->n;
    put32(b, be, type);
    put32(b, be, len);
    put(b, body->b, body->n);
    put32(b, be, len);
}

static void ng_shb(struct buf *b, bool be, uint16_t major)
{
    struct buf body = {.n = 0};
    put32(&body, be, 0x1A2B3C4Du);
    put16(&body, be, major);
    put16(&body, be, 0);
    put32(&body, be, 0xffffffffu); /* section length -1 */
    put32(&body, be, 0xffffffffu);
    ng_block(b, be, 0x0A0D0D0Au, &body);
}

static void ng_idb(struct buf *b, bool be, uint16_t linktype, int tsresol)
{
    struct buf body = {.n = 0};
    put16(&body, be, linktype);
    put16(&body, be, 0);
    put32(&body, be, 0);
    if (tsresol >= 0) {
        uint8_t opt[4] = {(uint8_t)tsresol, 0, 0, 0};
        put16(&body, be, 9);
        put16(&body, be, 1);
        put(&body, opt, 4);
        put16(&body, be, 0); /* opt_endofopt */
        put16(&body, be, 0);
    }
    ng_block(b, be, 1, &body);
}

static void ng_epb(struct buf *b, bool be, uint32_t ifid, uint64_t ts, uint32_t caplen,
                   uint8_t fill)
{
    struct buf body = {.n = 0};
    put32(&body, be, ifid);
    put32(&body, be, (uint32_t)(ts >> 32));
    put32(&body, be, (uint32_t)ts);
    put32(&body, be, caplen);
    put32(&body, be, caplen + 4);
    for (uint32_t i = 0; i < caplen; i++) {
        put(&body, &fill, 1);
    }
    while (body.n % 4 != 0) {
        uint8_t z = 0;
        put(&body, &z, 1);
    }
    ng_block(b, be, 6, &body);
}

static void test_pcapng(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    /* section 1, little endian: Ethernet in microseconds, raw IP in nanoseconds */
    ng_shb(&b, false, 1);
    ng_idb(&b, false, 1, -1);
    ng_idb(&b, false, 101, 9);
    ng_epb(&b, false, 0, UINT64_C(1700000000123456), 60, 0xe0);
    ng_epb(&b, false, 1, UINT64_C(1700000000123456789), 21, 0x45);
    {
        /* a name resolution block (skipped) and a simple packet block (interface 0) */
        struct buf body = {.n = 0};
        put32(&body, false, 0);
        ng_block(&b, false, 4, &body);
        body.n = 0;
        put32(&body, false, 14);
        put(&body, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x00\x00", 16);
        ng_block(&b, false, 3, &body);
    }
    /* section 2, big endian, a binary resolution 2^-10 */
    ng_shb(&b, true, 1);
    ng_idb(&b, true, 0, 0x8a);
    ng_epb(&b, true, 0, (UINT64_C(1700000002) << 10) | 512, 33, 0x02);
    const char *p = write_file("multi.pcapng", b.b, b.n);
    struct got g;
    read_one(p, &g, NULL);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.linktype[0], 1);
    assert_int_equal(g.linktype[1], 12);
    assert_int_equal(g.linktype[2], 1);
    assert_int_equal(g.linktype[3], 0);
    assert_true(g.ts[0] == UINT64_C(1700000000123456000));
    assert_true(g.ts[1] == UINT64_C(1700000000123456789));
    assert_true(g.ts[2] == 0);
    assert_true(g.ts[3] == UINT64_C(1700000002500000000));
    assert_int_equal(g.caplen[1], 21);
    assert_int_equal(g.wirelen[1], 25);
    assert_int_equal(g.caplen[2], 14);
    assert_int_equal(g.first[2], 1);
    assert_int_equal(g.first[3], 2);
    assert_int_equal(g.index[3], 4);

    /* errors: unknown interface, a cut block, an unsupported version */
    size_t good = b.n;
    ng_epb(&b, true, 7, 0, 10, 0);
    char want[512];
    read_one(write_file("badif.pcapng", b.b, b.n), &g, NULL);
    snprintf(want, sizeof(want), "%s: packet for unknown interface 7 at offset %zu",
             path_of("badif.pcapng"), good);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.err[0], want);

    b.n = good;
    ng_epb(&b, true, 0, 0, 10, 0);
    b.n -= 5;
    read_one(write_file("cut.pcapng", b.b, b.n), &g, NULL);
    snprintf(want, sizeof(want), "%s: truncated file, block data cut at offset %zu",
             path_of("cut.pcapng"), good);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.err_code[0], NS_ETRUNC);
    assert_string_equal(g.err[0], want);

    b.n = good;
    ng_shb(&b, false, 2);
    read_one(write_file("v2.pcapng", b.b, b.n), &g, NULL);
    snprintf(want, sizeof(want), "%s: unsupported pcapng version 2.0 at offset %zu",
             path_of("v2.pcapng"), good);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.err[0], want);
}

static void test_memory(void **state)
{
    (void)state;
    struct buf b = two_good();
    struct ns_source *s = NULL;
    struct ns_error e;
    assert_int_equal(ns_source_open_memory(&s, b.b, b.n, "mem", NULL, &e), 0);
    struct got g;
    drain(s, &g);
    ns_source_free(s);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.name[1], "mem");
}

/* ---- the shared captures ---- */

static bool shared(const char *rel, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", NS_SHARED_DATA, rel);
    if (access(out, R_OK) != 0) {
        print_message("skipped: %s not found (shared data absent)\n", out);
        return false;
    }
    return true;
}

static void test_shared_nano(void **state)
{
    (void)state;
    char p[512];
    if (!shared("pcap/linktype/tcpdump_tcp-handshake-nano.pcap", p, sizeof(p))) {
        skip();
    }
    struct got g;
    read_one(p, &g, NULL);
    /* tshark -T fields -e frame.time_epoch */
    assert_int_equal(g.n, 3);
    assert_true(g.ts[0] == UINT64_C(1418145369924505488));
    assert_true(g.ts[1] == UINT64_C(1418145370052027262));
    assert_true(g.ts[2] == UINT64_C(1418145370052115157));
    assert_int_equal(g.linktype[0], 113);
}

static void test_shared_pcapng_linktypes(void **state)
{
    (void)state;
    char p[512];
    if (!shared("pcap/pcapng/gopacket_le_test006.pcapng", p, sizeof(p))) {
        skip();
    }
    struct got g;
    read_one(p, &g, NULL);
    /* tshark: encapsulation 1 (Ethernet) and 15 (NULL, link type 0) for frame 2 */
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 5);
    const int lt[] = {1, 0, 1, 1, 1};
    const uint32_t cap[] = {96, 168, 96, 96, 96};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(g.linktype[i], lt[i]);
        assert_int_equal(g.caplen[i], cap[i]);
        assert_true(g.ts[i] == UINT64_C(1340954905298858000) + i * UINT64_C(1000000));
    }
    assert_int_equal(g.wirelen[0], 314);
}

static void test_shared_pcapng_invalid(void **state)
{
    (void)state;
    char p[512];
    if (!shared("pcap/pcapng/gopacket_le_test901.pcapng", p, sizeof(p))) {
        skip();
    }
    struct got g;
    read_one(p, &g, NULL);
    char want[600];
    snprintf(want, sizeof(want), "%s: unsupported pcapng version 2.0 at offset 480", p);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.nerr, 1);
    assert_string_equal(g.err[0], want);
}

static void test_shared_gz(void **state)
{
    (void)state;
    char p[512];
    if (!shared("pcap/compressed/zeek_pe_files_timestamp.pcap.gz", p, sizeof(p))) {
        skip();
    }
    struct got g;
    struct ns_source_stats st;
    read_one(p, &g, &st);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.n, 22);
    assert_true(g.ts[0] == UINT64_C(1716472368108052000));
    assert_true(g.ts[21] == UINT64_C(1716472371828721000));
    assert_int_equal(st.bytes, 15735);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/test_source.XXXXXX");
    return mkdtemp(g_dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_le_micro),
        cmocka_unit_test(test_pcap_be_nano),
        cmocka_unit_test(test_pcap_gzip),
        cmocka_unit_test(test_gzip_cut),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_dir_merge),
        cmocka_unit_test(test_repeated_paths),
        cmocka_unit_test(test_out_of_order_file),
        cmocka_unit_test(test_bpf),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pcap_variants),
        cmocka_unit_test(test_pcap_big_records),
        cmocka_unit_test(test_snaplen_exceeded),
        cmocka_unit_test(test_error_then_other_input),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_pcapng),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_shared_nano),
        cmocka_unit_test(test_shared_pcapng_linktypes),
        cmocka_unit_test(test_shared_pcapng_invalid),
        cmocka_unit_test(test_shared_gz),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
